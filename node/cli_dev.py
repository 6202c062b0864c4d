"""`konsort dev ...`: tools for development, demo and benchmark nodes only.

Every command here writes made-up data, so each refuses to run unless the
node says it is not a production node: ``dev_node = true`` in its settings,
or ``--yes-this-is-not-production`` on the command line (for a scratch
database set up by a script). `konsort dev seed` also refuses a node that
already has members, whatever the flags say.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from node.clock import Clock, SystemClock
from node.errors import ConfigurationError
from node.progress import progress_bar
from node.settings import Settings

#: The clock every command here reads (tests swap in a ManualClock).
CLOCK: Clock = SystemClock()
NOT_PRODUCTION = "--yes-this-is-not-production"


def require_dev_node(args: argparse.Namespace, settings: Settings) -> None:
    if settings.dev_node or args.yes_this_is_not_production:
        return
    raise ConfigurationError(
        f"`konsort dev` writes made-up data and node {settings.node_id!r} is not marked as a "
        "dev node. Set dev_node = true in its konsort.toml (or KONSORT_DEV_NODE=true), or "
        f"pass {NOT_PRODUCTION} if this database holds nothing real.",
        field="dev_node",
    )


def _partners(value: str) -> tuple[str, ...]:
    import re

    from protocol.keys import NODE_ID_PATTERN

    found = tuple(part.strip() for part in value.split(",") if part.strip())
    for partner in found:
        if not re.fullmatch(NODE_ID_PATTERN, partner):
            raise argparse.ArgumentTypeError(f"{partner!r} is not a node id")
    return found


def _positive(value: str) -> int:
    number = int(value.replace("_", ""))
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def cmd_dev_seed(args: argparse.Namespace, settings: Settings) -> int:
    """Fill an empty dev node with made-up members, purchases, redemptions and links."""
    from node.cli import open_database
    from node.secrets import NodeSecrets
    from node.seed import seed_node

    require_dev_node(args, settings)
    secrets = NodeSecrets.load(settings.keys_dir)
    with open_database(settings) as db:
        with progress_bar(args.customers, "seeding", unit="customers", quiet=args.quiet) as bar:
            report = seed_node(
                db,
                settings,
                secrets,
                customers=args.customers,
                now=CLOCK.now(),
                seed=args.seed,
                partners=args.partners,
                progress=bar,
            )
    rate = report.customers / report.seconds if report.seconds else 0.0
    print(
        f"seeded {report.customers:,} customers in {report.seconds:.1f} s ({rate:,.0f}/s): "
        f"{report.rows['ledger_transaction']:,} ledger transactions, "
        f"{report.ledger_entries:,} entries, {report.rows['purchase']:,} purchases, "
        f"{report.rows['consent_record']:,} consent records, "
        f"{report.rows['partner_link']:,} partner links"
    )
    print(f"first member's email: {_first_email(args.seed)}", file=sys.stderr)
    return 0


def _first_email(seed: int) -> str:
    from node.seed import synthetic_email

    return synthetic_email(seed, 0)


def add_dev_commands(commands: Any, add: Callable[..., argparse.ArgumentParser]) -> None:
    dev = commands.add_parser(
        "dev", help="development and demo tools (dev nodes only)"
    ).add_subparsers(dest="dev_command", required=True, metavar="DEV_COMMAND")
    seed = add(dev, "seed", cmd_dev_seed)
    seed.add_argument(
        "--customers", type=_positive, required=True, help="how many members to make, e.g. 10000"
    )
    seed.add_argument("--seed", type=int, default=1, help="what the made-up data derives from (1)")
    seed.add_argument(
        "--partners",
        type=_partners,
        default=("bookshop",),
        help="partner node ids members link with, comma-separated (bookshop)",
    )
    seed.add_argument("--quiet", action="store_true", help="no progress bar")
    seed.add_argument(
        NOT_PRODUCTION,
        dest="yes_this_is_not_production",
        action="store_true",
        help="run on a node whose settings do not say dev_node = true",
    )
