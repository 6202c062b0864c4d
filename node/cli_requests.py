"""`konsort requests ...`: the privacy officer's view of data-subject requests.

``list`` shows open and closed requests (``--overdue`` only those past their
due date), ``show`` one request with its history, ``export`` writes the zip of
an approved access or portability request to a file (mode 0600).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from node.clock import Clock, SystemClock
from node.settings import Settings

#: The clock every command here reads (tests swap in a ManualClock).
CLOCK: Clock = SystemClock()


def _line(item: dict[str, Any]) -> str:
    flag = "OVERDUE" if item["overdue"] else "-"
    return (
        f"{item['id']}\t{item['customer_id']}\t{item['type']}\t{item['state']}"
        f"\t{item['received_at']}\t{item['due_at']}\t{flag}"
    )


def cmd_requests_list(args: argparse.Namespace, settings: Settings) -> int:
    """Data-subject requests, oldest first; overdue ones are marked."""
    from node.cli import open_database
    from node.services import subject_requests

    print("request\tcustomer\ttype\tstate\treceived\tdue\toverdue")
    with open_database(settings) as db:
        cursor = None
        while True:
            page = subject_requests.list_requests(
                db,
                now=CLOCK.now(),
                state=args.state,
                overdue=args.overdue,
                cursor=cursor,
                limit=200,
            )
            for item in page["items"]:
                print(_line(item))
            cursor = page["next_cursor"]
            if cursor is None:
                return 0


def cmd_requests_show(args: argparse.Namespace, settings: Settings) -> int:
    """One request with its history."""
    from node.cli import open_database
    from node.services import subject_requests

    with open_database(settings) as db:
        found = subject_requests.get_request(db, request_id=args.request_id, now=CLOCK.now())
    print(_line(found))
    if found["extension"]:
        print(f"extended by {found['extension']['months']}: {found['extension']['reason']}")
    if found["outcome"]:
        print(f"outcome: {found['outcome']}")
    for event in found["history"]:
        print(
            f"{event['at']}\t{event['from_state'] or '-'} -> {event['to_state']}"
            f"\t{event['actor']}\t{event['note'] or ''}"
        )
    return 0


def cmd_requests_export(args: argparse.Namespace, settings: Settings) -> int:
    """Write the export zip of an approved access or portability request."""
    from node.cli import open_database
    from node.secrets import NodeSecrets
    from node.services import access_export

    with open_database(settings) as db:
        found = access_export.build_export(
            db,
            secrets=NodeSecrets.load(settings.keys_dir),
            node_id=settings.node_id,
            request_id=args.request_id,
            now=CLOCK.now(),
        )
    target = Path(args.output or found.filename)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(found.content)
    print(f"wrote {target} ({len(found.content)} bytes)")
    return 0


def add_requests_commands(commands: Any, add: Callable[..., argparse.ArgumentParser]) -> None:
    group = commands.add_parser("requests", help="data-subject requests").add_subparsers(
        dest="requests_command", required=True, metavar="REQUESTS_COMMAND"
    )
    listed = add(group, "list", cmd_requests_list)
    listed.add_argument("--state", help="only requests in this state")
    listed.add_argument("--overdue", action="store_true", help="only open requests past due")
    shown = add(group, "show", cmd_requests_show)
    shown.add_argument("request_id")
    export = add(group, "export", cmd_requests_export)
    export.add_argument("request_id")
    export.add_argument("--output", help="file to write (default konsort-export-<...>.zip)")
