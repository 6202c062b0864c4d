"""`konsort consent purposes list|publish`: the consent purposes and their wording."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from node.cli_program import _actor
from node.clock import SystemClock
from node.errors import ConfigurationError
from node.settings import Settings

Command = Callable[[argparse.Namespace, Settings], int]


def cmd_consent_purposes_list(args: argparse.Namespace, settings: Settings) -> int:
    """List the consent purposes with the version of their wording in force."""
    from node.cli import open_database
    from node.services.consent_purposes import list_purposes, purpose_json

    with open_database(settings) as db:
        found = list_purposes(db)
    if args.json:
        print(json.dumps([purpose_json(p) for p in found], indent=2, ensure_ascii=False))
        return 0
    for purpose in found:
        current = purpose.current
        print(f"{purpose.purpose}\tv{current.version}\t{purpose.legal_basis}\t{current.title}")
    return 0


def cmd_consent_purposes_publish(args: argparse.Namespace, settings: Settings) -> int:
    """Publish new wording for a purpose (the next version), or add a purpose."""
    from node.cli import open_database
    from node.services.consent_purposes import publish_wording

    if args.text_file:
        try:
            text = Path(args.text_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigurationError(f"cannot read {args.text_file}: {exc.strerror}") from None
    elif args.text:
        text = args.text
    else:
        raise ConfigurationError("give the wording with --text or --text-file")
    with open_database(settings) as db:
        row = publish_wording(
            db,
            purpose=args.purpose,
            title=args.title,
            text=text,
            actor=_actor(args),
            now=SystemClock().now(),
        )
    print(f"published {row.purpose} wording version {row.version} ({row.legal_basis})")
    return 0


def add_consent_commands(commands: Any, add: Callable[..., argparse.ArgumentParser]) -> None:
    consent = commands.add_parser("consent", help="consent purposes").add_subparsers(
        dest="consent_command", required=True, metavar="CONSENT_COMMAND"
    )
    purposes = consent.add_parser("purposes", help="purposes and wording").add_subparsers(
        dest="purposes_command", required=True, metavar="PURPOSES_COMMAND"
    )
    listed = add(purposes, "list", cmd_consent_purposes_list)
    listed.add_argument("--json", action="store_true", help="every version, as JSON")
    publish = add(purposes, "publish", cmd_consent_purposes_publish)
    publish.add_argument("purpose", help="purpose id, e.g. marketing (a new id adds a purpose)")
    publish.add_argument("--title", required=True, help="short name shown to members")
    publish.add_argument("--text", help="the wording, in plain language")
    publish.add_argument("--text-file", help="read the wording from this UTF-8 file")
    publish.add_argument("--actor", help="who publishes it (default cli:<user name>)")
