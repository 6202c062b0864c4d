"""Points about to expire: the listings a business warns its members from, and
the ``points.expiring`` webhook event.

A lot counts as expiring within N days when it has points left and its
``expires_at`` falls after now and no later than now + N days. A lot already
past its expiry counts as gone, as in the balance, even before the expiry job
has written it off.

:func:`warn_expiring_points` announces each lot once. It works through the
members holding unannounced lots in the program's warning window
(``expiry.warn_days`` of the program in force; 0 turns warnings off), a batch
of members per transaction. In that transaction it inserts one
``expiry_warning`` row per lot with ``ON CONFLICT DO NOTHING`` and records one
``points.expiring`` event per member for the lots that insert actually
marked. A second run, or two runs at once, finds those lots marked and
announces nothing twice; a member who earns more later is warned again, for
the new lots only.
"""

from __future__ import annotations

import base64
import binascii
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from node.clock import isoformat
from node.db import Database
from node.errors import RequestError
from node.services.customers import require_active_txn
from node.services.events import record_event_txn
from node.services.program import current_program
from node.settings import Settings
from node.store import expiry as store

EVENT_TYPE = "points.expiring"


@dataclass(frozen=True)
class WarningReport:
    #: Members sent a ``points.expiring`` event in this run.
    customers: int
    lots: int
    points: int


def warn_expiring_points(
    db: Database, settings: Settings, *, now: datetime, batch_size: int = 500
) -> WarningReport:
    """Announce every lot that enters the warning window, once, a batch of members at a time."""
    warn_days = current_program(db, settings, now=now).program.expiry.warn_days
    if warn_days == 0:
        return WarningReport(0, 0, 0)
    horizon = now + timedelta(days=warn_days)
    customers = lots = points = 0
    while True:

        def unit(session: Session) -> tuple[int, int, int] | None:
            return _warn_batch_txn(session=session, now=now, horizon=horizon, limit=batch_size)

        done = db.write(unit)
        if done is None:
            return WarningReport(customers, lots, points)
        customers, lots, points = customers + done[0], lots + done[1], points + done[2]


def _warn_batch_txn(
    *, session: Session, now: datetime, horizon: datetime, limit: int
) -> tuple[int, int, int] | None:
    accounts = store.accounts_to_warn(session=session, now=now, horizon=horizon, limit=limit)
    if not accounts:
        return None
    due = store.lots_to_warn(session=session, account_ids=accounts, now=now, horizon=horizon)
    marked = store.insert_warnings(session=session, lot_ids=[lot.lot_id for lot in due], now=now)
    per_customer: dict[str, list[store.ExpiringLot]] = defaultdict(list)
    for lot in due:
        if lot.lot_id in marked:
            per_customer[lot.customer_id].append(lot)
    for customer_id in sorted(per_customer):
        own = per_customer[customer_id]
        record_event_txn(
            session=session,
            type=EVENT_TYPE,
            payload={
                "customer_id": customer_id,
                "points": sum(lot.points for lot in own),
                "expires_at": isoformat(min(lot.expires_at for lot in own)),
            },
            now=now,
        )
    announced = [lot for own in per_customer.values() for lot in own]
    return len(per_customer), len(announced), sum(lot.points for lot in announced)


@dataclass(frozen=True)
class ExpiringPage:
    items: list[dict[str, Any]]
    next_cursor: str | None


def _encode_cursor(earliest: datetime, customer_id: str) -> str:
    text = f"after:{isoformat(earliest)}|{customer_id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, rest = text.partition(":")
        moment, _, customer_id = rest.partition("|")
        if kind != "after" or not customer_id:
            raise ValueError
        earliest = datetime.fromisoformat(moment)
        if earliest.tzinfo is None:
            raise ValueError
        return earliest, customer_id
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise RequestError("the cursor is not one this API returned", field="cursor") from None


def expiring_by_customer(
    db: Database, *, now: datetime, within_days: int, limit: int, cursor: str | None
) -> ExpiringPage:
    """Per member, the points expiring within ``within_days`` and the earliest expiry.

    Soonest first; keyset-paged, so a page is never shifted by members before it.
    """
    after = _decode_cursor(cursor) if cursor else None
    with db.read() as session:
        rows = store.customer_summaries(
            session=session,
            now=now,
            horizon=now + timedelta(days=within_days),
            after=after,
            limit=limit + 1,
        )
    more = len(rows) > limit
    rows = rows[:limit]
    items = [
        {
            "customer_id": row.customer_id,
            "points": row.points,
            "expires_at": isoformat(row.earliest),
        }
        for row in rows
    ]
    last = rows[-1] if more else None
    return ExpiringPage(items, _encode_cursor(last.earliest, last.customer_id) if last else None)


def customer_expiring(
    db: Database, *, customer_id: str, now: datetime, within_days: int, limit: int
) -> dict[str, Any]:
    """One member's points expiring within ``within_days``, lot by lot, soonest first."""
    with db.read() as session:
        require_active_txn(session=session, customer_id=customer_id)
        total, lots = store.customer_lots(
            session=session,
            customer_id=customer_id,
            now=now,
            horizon=now + timedelta(days=within_days),
            limit=limit,
        )
    return {
        "customer_id": customer_id,
        "within_days": within_days,
        "points": total,
        "lots": [
            {
                "points": lot.points,
                "earned_at": isoformat(lot.earned_at),
                "expires_at": isoformat(lot.expires_at),
            }
            for lot in lots
        ],
    }
