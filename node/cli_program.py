"""`konsort program ...`: check, apply, show and list the program's versions; run its jobs."""

from __future__ import annotations

import argparse
import getpass
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tomli_w

from node.clock import SystemClock
from node.errors import ConfigurationError
from node.settings import Settings

Command = Callable[[argparse.Namespace, Settings], int]


def _read_program(path: str) -> Any:
    from node.program.config import load_program_file

    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot read {path}: {exc.strerror}") from None
    return load_program_file(text)


def _actor(args: argparse.Namespace) -> str:
    if args.actor:
        return str(args.actor)
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in some containers
        return "cli"


def cmd_program_check(args: argparse.Namespace, settings: Settings) -> int:
    """Validate a program file and list what it would change; saves nothing."""
    from node.cli import open_database
    from node.services.program import changed_paths, current_program

    candidate = _read_program(args.file)
    with open_database(settings) as db:
        current = current_program(db, settings, now=SystemClock().now())
    changed = changed_paths(current.program, candidate)
    print(f"{args.file}: valid")
    print(f"changes from version {current.version}: {', '.join(changed) or 'none'}")
    return 0


def cmd_program_apply(args: argparse.Namespace, settings: Settings) -> int:
    """Store a program file as the next version, in force at once."""
    from node.cli import open_database
    from node.services.program import update_program

    candidate = _read_program(args.file)
    with open_database(settings) as db:
        change = update_program(
            db,
            settings,
            program=candidate,
            actor=_actor(args),
            comment=args.comment,
            now=SystemClock().now(),
        )
    changed = ", ".join(change.changed) or "nothing"
    print(f"program version {change.version} in force (changed: {changed})")
    return 0


def cmd_program_show(args: argparse.Namespace, settings: Settings) -> int:
    """Print the program in force (or one version) as TOML, or JSON with --json."""
    from node.cli import open_database
    from node.services.program import current_program, program_version

    with open_database(settings) as db:
        if args.version is not None:
            found = program_version(db, settings, version=args.version)
        else:
            found = current_program(db, settings, now=SystemClock().now())
    if args.json:
        print(
            json.dumps(
                {"version": found.version, "program": found.program.model_dump(mode="json")},
                indent=2,
            )
        )
    else:
        print(f"# program version {found.version}")
        print(tomli_w.dumps(found.program.model_dump(mode="python", exclude_none=True)), end="")
    return 0


def cmd_program_history(args: argparse.Namespace, settings: Settings) -> int:
    """List program versions, newest first: who, when, why and what changed."""
    from node.cli import open_database
    from node.services.program import program_history

    with open_database(settings) as db:
        changes = program_history(db, settings, before=None, limit=args.limit)
    if not changes:
        print("no program stored yet: version 0 (the settings' earn rate and expiry) applies")
    for change in changes:
        when = change.created_at.isoformat(timespec="seconds")
        print(f"{change.version}\t{when}\t{change.actor}\t{change.comment or ''}")
        print(f"\tchanged: {', '.join(change.changed) or 'nothing'}")
    return 0


def cmd_program_run_jobs(args: argparse.Namespace, settings: Settings) -> int:
    """Run the program's jobs once now: tier reviews, birthday bonuses, paid memberships,
    time-based personalised offers and expiry warnings."""
    from node.cli import open_database
    from node.secrets import NodeSecrets
    from node.services.bonuses import award_birthday_bonuses
    from node.services.expiry_warnings import warn_expiring_points
    from node.services.memberships import advance_memberships
    from node.services.offers import issue_scheduled_offers
    from node.services.tiers import review_tiers

    now = SystemClock().now()
    secrets = NodeSecrets.load(settings.keys_dir)
    with open_database(settings) as db:
        reviewed = review_tiers(db, settings, now=now)
        birthdays = award_birthday_bonuses(db, settings, secrets, now=now)
        advanced = advance_memberships(db, settings, now=now)
        offered = issue_scheduled_offers(db, settings, secrets, now=now)
        warned = warn_expiring_points(db, settings, now=now)
    print(
        f"tiers reviewed: {reviewed.reviewed} (up {reviewed.up}, down {reviewed.down},"
        f" grace {reviewed.grace})"
    )
    print(f"birthday bonuses: {birthdays.members} members, {birthdays.points} points")
    print(f"memberships: {advanced.moved} moved, {advanced.notices} renewal notices")
    print(f"offers: {offered.issued} issued to {offered.customers} members")
    print(f"expiry warnings: {warned.customers} members, {warned.points} points")
    return 0


def add_program_commands(commands: Any, add: Callable[..., argparse.ArgumentParser]) -> None:
    program = commands.add_parser("program", help="the loyalty program's rules").add_subparsers(
        dest="program_command", required=True, metavar="PROGRAM_COMMAND"
    )
    check = add(program, "check", cmd_program_check)
    check.add_argument("file", help="program TOML file (docs/program.md)")
    apply = add(program, "apply", cmd_program_apply)
    apply.add_argument("file", help="program TOML file (docs/program.md)")
    apply.add_argument("--comment", help="why it changes (kept in the history)")
    apply.add_argument("--actor", help="who changes it (default cli:<user name>)")
    show = add(program, "show", cmd_program_show)
    show.add_argument("--version", type=int, help="a stored version (default: in force now)")
    show.add_argument("--json", action="store_true", help="print JSON instead of TOML")
    history = add(program, "history", cmd_program_history)
    history.add_argument("--limit", type=int, default=20)
    add(program, "run-jobs", cmd_program_run_jobs)
