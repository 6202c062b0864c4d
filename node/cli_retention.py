"""`konsort retention ...`: the policies, a run by hand (with a progress bar), past runs.

The node also runs the policies on its own every ``retention_interval_seconds``;
a run by hand is the same run, recorded with trigger ``cli``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from node.clock import Clock, SystemClock
from node.progress import progress_bar
from node.settings import Settings

#: The clock every command here reads (tests swap in a ManualClock).
CLOCK: Clock = SystemClock()


def cmd_retention_policies(args: argparse.Namespace, settings: Settings) -> int:
    """List the retention policies: category, duration, action and current cutoff."""
    from node.services import retention

    print("category\tkeep\taction\tcutoff\tavailable")
    for policy in retention.policies_json(settings, now=CLOCK.now()):
        keep = "forever" if policy["keeps_forever"] else f"{policy['duration']} {policy['unit']}"
        available = "yes" if policy["available"] else "no (not registered)"
        print(
            f"{policy['category']}\t{keep}\t{policy['action']}\t{policy['cutoff'] or '-'}"
            f"\t{available}"
        )
    return 0


def _print_run(run: dict[str, Any]) -> None:
    kind = "dry run" if run["dry_run"] else "run"
    print(f"{kind} {run['id']} ({run['trigger']}, {run['actor']}) started {run['started_at']}")
    for result in run["categories"]:
        if result["state"] != "done":
            print(f"  {result['category']}: {result['state']}")
        elif run["dry_run"]:
            sample = ", ".join(result["sample"]) or "-"
            print(
                f"  {result['category']}: {result['due']} would go ({result['action']}): {sample}"
            )
        else:
            print(f"  {result['category']}: {result['applied']} {result['action']}d")
    if run["error"]:
        print(f"  stopped: {run['error']}")


def cmd_retention_run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the retention policies now (`--dry-run` only lists what would go)."""
    from node.cli import open_database
    from node.cli_federation import federation_or_none
    from node.services import retention

    def bars(total: int | None, desc: str, unit: str) -> Any:
        return progress_bar(total, desc, unit=unit, quiet=args.quiet)

    with open_database(settings) as db:
        run = retention.run_retention(
            db,
            settings,
            clock=CLOCK,
            dry_run=args.dry_run,
            trigger="cli",
            actor="cli",
            only=args.category or None,
            progress=bars,
            fed=federation_or_none(settings),
        )
    _print_run(retention.run_json(run))
    return 0


def cmd_retention_runs(args: argparse.Namespace, settings: Settings) -> int:
    """List past retention runs, newest first."""
    from node.cli import open_database
    from node.services import retention

    with open_database(settings) as db:
        found = retention.list_runs(db, limit=args.limit)
    print("run\tkind\ttrigger\tactor\tstarted\tfinished\tapplied\terror")
    for run in found:
        body = retention.run_json(run)
        applied = sum(int(c["applied"]) for c in body["categories"])
        print(
            f"{body['id']}\t{'dry run' if body['dry_run'] else 'run'}\t{body['trigger']}"
            f"\t{body['actor']}\t{body['started_at']}\t{body['finished_at'] or '-'}"
            f"\t{applied}\t{body['error'] or '-'}"
        )
    return 0


def add_retention_commands(commands: Any, add: Callable[..., argparse.ArgumentParser]) -> None:
    group = commands.add_parser("retention", help="retention policies").add_subparsers(
        dest="retention_command", required=True, metavar="RETENTION_COMMAND"
    )
    add(group, "policies", cmd_retention_policies)
    run = add(group, "run", cmd_retention_run)
    run.add_argument("--dry-run", action="store_true", help="list what would go; change nothing")
    run.add_argument("--category", action="append", help="only this category (repeat for several)")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    runs = add(group, "runs", cmd_retention_runs)
    runs.add_argument("--limit", type=int, default=20, help="how many runs (default 20)")
