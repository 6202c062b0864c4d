"""`konsort audit ...`: check the audit log's hash chain and read its entries."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from node.settings import Settings


def cmd_audit_verify(args: argparse.Namespace, settings: Settings) -> int:
    """Check the audit log's hash chain; exit 1 at the first broken entry."""
    from node.cli import open_database
    from node.progress import progress_bar
    from node.services import audit

    with open_database(settings) as db:
        total = audit.chain_length(db)
        with progress_bar(total, "verifying", unit="entries") as bar:
            report = audit.verify_chain(db, progress=bar.advance)
    if args.json:
        print(json.dumps(report.as_dict()))
    elif report.ok:
        print(
            f"audit chain OK: {report.checked} entries after seq {report.starts_after}, "
            f"head {report.head_seq} {report.head_hash}"
        )
    else:
        print(f"BROKEN at seq {report.first_bad_seq}: {report.reason}")
        print(f"{report.checked} entries after seq {report.starts_after} were sound")
    return 0 if report.ok else 1


def cmd_audit_show(args: argparse.Namespace, settings: Settings) -> int:
    """Show the newest audit entries, oldest of them first."""
    from node.cli import open_database
    from node.services import audit

    with open_database(settings) as db:
        entries = audit.latest_entries(db, customer_id=args.customer, limit=args.limit)
    print("seq\tat\tactor\taction\tcustomer\tpurpose\tdetail")
    for entry in entries:
        detail = json.dumps(entry["detail"], separators=(",", ":"), sort_keys=True)
        print(
            f"{entry['seq']}\t{entry['at']}\t{entry['actor']}\t{entry['action']}"
            f"\t{entry['customer_id'] or '-'}\t{entry['purpose']}\t{detail}"
        )
    return 0


def _limit(value: str) -> int:
    number = int(value)
    if not 1 <= number <= 10000:
        raise argparse.ArgumentTypeError("give 1 to 10000")
    return number


def add_audit_commands(commands: Any, add: Callable[..., argparse.ArgumentParser]) -> None:
    group = commands.add_parser("audit", help="the audit log").add_subparsers(
        dest="audit_command", required=True, metavar="AUDIT_COMMAND"
    )
    verify = add(group, "verify", cmd_audit_verify)
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    show = add(group, "show", cmd_audit_show)
    show.add_argument("--customer", help="only this customer's entries (the opaque id)")
    show.add_argument("--limit", type=_limit, default=50, help="how many (default 50)")
