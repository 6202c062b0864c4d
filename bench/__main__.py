"""``python -m bench`` (``make bench``): the node's throughput beside this machine's ceiling.

Runs every suite in :data:`SUITES` in a scratch directory, prints one table
(stdout; progress goes to stderr) and writes it as JSON. A new kind of row is
a new suite: a function ``run(bench)`` added to :data:`SUITES`. Exits 1 if a
suite failed or any request of any row failed; missed targets are reported,
not failed (they depend on the machine).
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench import ceiling, federation_bench, node_bench, protocol_bench
from bench.databases import postgres_unreachable
from bench.harness import DEFAULT_POSTGRES_URL, Bench, Options, Suite
from bench.machine import describe, summary
from bench.processes import REPO_ROOT
from bench.report import Table, write_json

SUITES: tuple[Suite, ...] = (ceiling.run, node_bench.run, federation_bench.run)
DEFAULT_JSON = REPO_ROOT / "bench" / "results" / "latest.json"
DATABASES = {"sqlite": ("sqlite",), "postgresql": ("postgresql",), "both": ("sqlite", "postgresql")}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, help="seconds measured per row (default 10)")
    parser.add_argument("--warmup", type=float, help="seconds of warm-up per row (default 2)")
    parser.add_argument("--concurrency", type=int, default=32, help="clients (default 32)")
    parser.add_argument(
        "--database",
        choices=sorted(DATABASES),
        help="(default both; SQLite alone when PostgreSQL cannot be reached)",
    )
    parser.add_argument("--customers", type=int, help="customers the node rows use (1000)")
    parser.add_argument(
        "--quick", action="store_true", help="a short smoke run: 1 s per row, 100 customers"
    )
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help=f"(default {DEFAULT_JSON})")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL, help="admin connection")
    return parser


def _databases(asked: str | None, postgres_url: str) -> tuple[str, ...]:
    """The databases to measure: what was asked, or both when PostgreSQL is there."""
    if asked is not None:
        return DATABASES[asked]
    why = postgres_unreachable(postgres_url)
    if why is None:
        return DATABASES["both"]
    print(f"bench: PostgreSQL not reachable ({why}); measuring SQLite only", file=sys.stderr)
    return DATABASES["sqlite"]


def options_from(args: argparse.Namespace) -> Options:
    quick = args.quick

    def pick(given: Any, normal: Any, short: Any) -> Any:
        return given if given is not None else (short if quick else normal)

    options = Options(
        duration=pick(args.duration, 10.0, 1.0),
        warmup=pick(args.warmup, 2.0, 0.3),
        concurrency=args.concurrency,
        databases=_databases(args.database, args.postgres_url),
        customers=pick(args.customers, 1000, 100),
        postgres_url=args.postgres_url,
    )
    if options.duration <= 0 or options.warmup < 0 or options.concurrency < 1:
        raise SystemExit("duration must be > 0, warm-up >= 0 and concurrency >= 1")
    if options.customers < 1:
        raise SystemExit("customers must be >= 1")
    return options


def render_protocol(figures: dict[str, float]) -> str:
    """The protocol rows: full message sign/verify beside raw Ed25519 in the same run."""
    lines = [f"{'protocol (one core)':32} {'rate':>10}  {'raw Ed25519':>12}  ratio"]
    for op in ("sign", "verify"):
        full, raw = figures[f"{op}_per_s"], figures[f"raw_{op}_per_s"]
        lines.append(f"{'message ' + op:32} {full:>8,.0f}/s  {raw:>10,.0f}/s  {full / raw:5.0%}")
    return "\n".join(lines)


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds every `with`, so children are stopped


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    options = options_from(args)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    machine = describe()
    failure: str | None = None
    try:
        with tempfile.TemporaryDirectory(prefix="konsort-bench-") as scratch:
            bench = Bench(options, Path(scratch))
            try:
                for suite in SUITES:
                    suite(bench)
            except Exception as exc:  # report what was measured, then fail
                failure = f"{type(exc).__name__}: {exc}"
                bench.progress(f"bench failed: {failure}")
    except KeyboardInterrupt:
        print("bench: interrupted; servers stopped, scratch files removed", file=sys.stderr)
        return 130
    table = Table(bench.rows)
    print(
        f"Konsort bench: {options.concurrency} concurrent clients, "
        f"{options.warmup:g} s warm-up + {options.duration:g} s per row, "
        f"{options.customers:,} customers"
    )
    print(summary(machine))
    print()
    print(table.render())
    failed = f"bench failed: {failure}" if failure else ""
    for extra in (table.render_errors(), table.render_targets(), failed):
        if extra:
            print()
            print(extra)
    bench.progress("protocol: signing and verifying transfer messages ...")
    crypto = protocol_bench.run(duration=max(1.0, min(options.duration, 5.0)))
    print()
    print(render_protocol(crypto))
    document = table.as_json(options=asdict(options), machine=machine)
    document["protocol"] = crypto
    document["failure"] = failure
    write_json(args.json, document)
    print(f"\nwrote {args.json}")
    # Every request of every row should succeed; errors mean something is broken.
    return 1 if failure or any(row.result.errors for row in table.rows) else 0


if __name__ == "__main__":
    sys.exit(main())
