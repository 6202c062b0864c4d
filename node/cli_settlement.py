"""`konsort settlement ...`: periods with each partner, statements, payments.

``send`` builds and queues the statement in the node's database; the running
node's federation job delivers it and applies the partner's answer (see
``konsort settlement list`` a moment later). Dates are UTC: ``--from
2026-03-01 --to 2026-04-01`` is March (the end is exclusive); a full RFC 3339
time works too.
"""

from __future__ import annotations

import argparse
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from node.clock import Clock, SystemClock
from node.errors import ValidationFailed
from node.settings import Settings

#: The clock every command here reads (tests swap in a ManualClock).
CLOCK: Clock = SystemClock()


def parse_moment(value: str, flag: str) -> datetime:
    """A date (midnight UTC) or an RFC 3339 time with its offset."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationFailed(f"{flag}: expected a date like 2026-03-01", field=flag) from None
    if moment.tzinfo is None:
        if len(value) != 10:
            raise ValidationFailed(f"{flag}: give the time's offset, e.g. Z", field=flag)
        moment = moment.replace(tzinfo=UTC)
    return moment


def _print_period(period: dict[str, Any]) -> None:
    net = period["net_minor"]
    owes = f"{period['owed_by']} owes {period['owed_to']} {abs(net)}" if net else "nothing owed"
    if net is None:
        owes = "-"
    differing = ",".join(period["differing"]) or "-"
    print(
        f"{period['id']}\t{period['partner']}\t{period['period_start']}\t{period['period_end']}"
        f"\t{period['state']}\t{net if net is not None else '-'}\t{owes}"
        f"\tpaid {period['paid_minor']}\t{differing}"
    )


def cmd_settlement_list(args: argparse.Namespace, settings: Settings) -> int:
    """Settlement periods: state, net (positive: the partner owes us), differing refs."""
    from node.cli import open_database
    from node.services import settlement

    with open_database(settings) as db:
        found = settlement.list_periods(db, node_id=settings.node_id, partner=args.partner)
    print("period\tpartner\tfrom\tto\tstate\tnet\twho owes whom\tpaid\tdiffering")
    for period in found:
        _print_period(period)
    return 0


def cmd_settlement_send(args: argparse.Namespace, settings: Settings) -> int:
    """Queue this node's statement of a period for a partner."""
    from node.cli import open_database
    from node.cli_federation import _federation
    from node.services import settlement
    from node.services.idempotency import run_idempotent

    start, end = parse_moment(args.start, "--from"), parse_moment(args.end, "--to")
    with open_database(settings) as db:
        unit = settlement.statement_unit(
            _federation(settings),
            partner=args.partner,
            period_start=start,
            period_end=end,
            force=args.force,
            idempotency_key=f"cli:{uuid.uuid4()}",
            now=CLOCK.now(),
        )
        answer = run_idempotent(db, unit)
    _print_period(answer.body)
    print("queued: the node delivers it and records the answer (konsort settlement list)")
    return 0


def cmd_settlement_record_payment(args: argparse.Namespace, settings: Settings) -> int:
    """Record a payment made outside Konsort against an agreed period."""
    from node.cli import open_database
    from node.services import settlement
    from node.services.idempotency import run_idempotent

    with open_database(settings) as db:
        unit = settlement.payment_unit(
            node_id=settings.node_id,
            period_id=args.period_id,
            amount_minor=args.amount,
            reference=args.reference,
            # The same payment entered twice (same period and reference) is recorded once.
            idempotency_key=f"cli:payment:{args.period_id}:{args.reference}",
            now=CLOCK.now(),
            recorded_by="cli",
        )
        answer = run_idempotent(db, unit)
    payment = answer.body["payment"]
    paid = f"{payment['payer']} paid {payment['amount_minor']}"
    print(f"{payment['id']}\t{paid}\t{payment['reference']}")
    _print_period(answer.body["period"])
    return 0


def add_settlement_commands(commands: Any, add: Callable[..., argparse.ArgumentParser]) -> None:
    group = commands.add_parser("settlement", help="settlement with partners").add_subparsers(
        dest="settlement_command", required=True, metavar="SETTLEMENT_COMMAND"
    )
    listed = add(group, "list", cmd_settlement_list)
    listed.add_argument("--partner", help="only this partner's periods")
    send = add(group, "send", cmd_settlement_send)
    send.add_argument("--partner", required=True)
    send.add_argument(
        "--from", dest="start", required=True, help="first day (UTC), e.g. 2026-03-01"
    )
    send.add_argument("--to", dest="end", required=True, help="day after the last (exclusive)")
    send.add_argument(
        "--force", action="store_true", help="skip the 7-day wait after the period (demos)"
    )
    pay = add(group, "record-payment", cmd_settlement_record_payment)
    pay.add_argument("period_id")
    pay.add_argument("--amount", type=int, required=True, help="minor units, e.g. 12960")
    pay.add_argument("--reference", required=True, help="the bank or transfer reference")
