"""`konsort privacy records`: the Art. 30 record of processing, from the node itself."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from node.clock import SystemClock
from node.settings import Settings


def cmd_privacy_records(args: argparse.Namespace, settings: Settings) -> int:
    """Print the record of processing activities (GDPR Art. 30) as Markdown or JSON."""
    from node.cli import open_database
    from node.cli_federation import federation_or_none
    from node.services import processing_records

    fed = federation_or_none(settings)
    with open_database(settings) as db:
        record = processing_records.records_of_processing(
            db, settings, fed, now=SystemClock().now()
        )
    if args.json:
        print(json.dumps(record, indent=2, ensure_ascii=False))
    else:
        print(processing_records.as_markdown(record), end="")
    return 0


def add_privacy_commands(commands: Any, add: Callable[..., argparse.ArgumentParser]) -> None:
    privacy = commands.add_parser("privacy", help="GDPR records").add_subparsers(
        dest="privacy_command", required=True, metavar="PRIVACY_COMMAND"
    )
    records = add(privacy, "records", cmd_privacy_records)
    records.add_argument("--json", action="store_true", help="JSON instead of Markdown")
