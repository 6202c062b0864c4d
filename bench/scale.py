"""``python -m bench.scale`` (``make bench-scale``): the node's costs at 10k, 100k and 1M members.

For each size it makes a fresh PostgreSQL database next to ``--postgres-url``,
sets a node up on it with the real CLI (``konsort init``, then ``konsort dev
seed``, about ten ledger entries per member), and then measures:

- each per-member operation (bench/scale_ops.py), ``--samples`` times on
  random members, p50 and p99, and whether it read any large table without
  an index (PostgreSQL's own counters);
- the KPI report over the last year and a retention dry run, each in a
  process of its own for its time and peak memory (bench/scale_child.py).

It prints one table, writes the figures as JSON (``--json``) and the curve as
an SVG chart (``--chart``). Each scratch database is dropped after its size.
Exits 1 if a size failed; a per-member operation that scans a large table is
reported, not failed (it depends on the planner's statistics).
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.databases import scratch_postgres, sqlalchemy_url
from bench.harness import DEFAULT_POSTGRES_URL
from bench.machine import describe, summary
from bench.node_bench import konsort_command
from bench.processes import REPO_ROOT, child_env, run_command
from bench.report import write_json
from bench.scale_ops import OPERATIONS, OpContext, time_operation
from bench.scale_report import render_table, size_label, write_chart

DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
DEFAULT_JSON = REPO_ROOT / "bench" / "results" / "scale.json"
DEFAULT_CHART = REPO_ROOT / "docs" / "img" / "scale.svg"
SEED = 1


def parse_sizes(value: str) -> tuple[int, ...]:
    """``10k,100k,1M`` or plain numbers."""
    sizes = []
    for part in value.split(","):
        text = part.strip().lower().replace("_", "")
        factor = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
        try:
            number = int(text[:-1] if factor > 1 else text) * factor
        except ValueError:
            raise argparse.ArgumentTypeError(f"{part!r} is not a size like 10k or 1M") from None
        if number < 50:
            raise argparse.ArgumentTypeError("a size is at least 50 customers")
        sizes.append(number)
    return tuple(sizes)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scale", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--sizes", type=parse_sizes, default=DEFAULT_SIZES, help="(10k,100k,1M)")
    parser.add_argument("--samples", type=int, default=300, help="timed calls per operation (300)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed calls first (20)")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL, help="admin connection")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help=f"(default {DEFAULT_JSON})")
    parser.add_argument(
        "--chart", type=Path, default=DEFAULT_CHART, help=f"(default {DEFAULT_CHART})"
    )
    return parser


class Log:
    def __init__(self) -> None:
        self._started = time.monotonic()

    def __call__(self, message: str) -> None:
        elapsed = time.monotonic() - self._started
        print(f"[{elapsed:7.1f}s] {message}", file=sys.stderr, flush=True)


def _seed(data_dir: Path, customers: int) -> dict[str, Any]:
    started = time.perf_counter()
    completed = subprocess.run(
        [*konsort_command(), "--data-dir", str(data_dir), "dev", "seed", "--customers",
         str(customers), "--seed", str(SEED), "--quiet", "--yes-this-is-not-production"],
        capture_output=True, text=True, env=child_env(), check=False,
    )  # fmt: skip
    if completed.returncode != 0:
        raise RuntimeError(f"konsort dev seed failed:\n{completed.stderr.strip()}")
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "per_s": customers / seconds, "output": completed.stdout.strip()}


def _child(job: str, data_dir: Path) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, "-m", "bench.scale_child", job, "--data-dir", str(data_dir)],
        capture_output=True, text=True, env=child_env(), cwd=REPO_ROOT, check=False,
    )  # fmt: skip
    if completed.returncode != 0:
        raise RuntimeError(f"{job} run failed:\n{completed.stderr.strip()}")
    found: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return found


def measure_size(
    customers: int, args: argparse.Namespace, workdir: Path, log: Log
) -> dict[str, Any]:
    from node.db import Database
    from node.secrets import NodeSecrets
    from node.settings import load_settings
    from node.store.sql import raw

    label = size_label(customers)
    with scratch_postgres(args.postgres_url, label=f"scale{label.lower()}") as url:
        data_dir = workdir / f"node-{label}"
        run_command(
            [*konsort_command(), "--data-dir", str(data_dir), "init", "--node-id", "cafe",
             "--database-url", sqlalchemy_url(url)],
            env=child_env(),
        )  # fmt: skip
        log(f"{label}: seeding {customers:,} customers ...")
        seeded = _seed(data_dir, customers)
        log(f"{label}: {seeded['output']}")
        settings = load_settings(data_dir / "konsort.toml", environ={}, data_dir=data_dir)
        db = Database(settings.resolved_database_url)
        try:
            with db.read() as session:
                sql = raw(session)
                entries = sql.one("SELECT COUNT(*) FROM ledger_entry")
                size = sql.one("SELECT pg_database_size(current_database())")
            ctx = OpContext(
                db, settings, NodeSecrets.load(settings.keys_dir), SEED, customers,
                datetime.now(UTC),
            )  # fmt: skip
            operations = []
            for key, op_label, operation in OPERATIONS:
                result = time_operation(
                    ctx, key, op_label, operation, samples=args.samples, warmup=args.warmup
                )
                scanned = (
                    f" (read {', '.join(result.scanned)} without an index)"
                    if result.scanned
                    else ""
                )
                log(
                    f"{label}: {op_label}: p50 {result.p50_ms:.2f} ms,"
                    f" p99 {result.p99_ms:.2f} ms{scanned}"
                )
                operations.append(asdict(result))
        finally:
            db.dispose()
        jobs = {}
        for job in ("kpi", "retention"):
            jobs[job] = _child(job, data_dir)
            log(
                f"{label}: {job}: {jobs[job]['seconds']:.2f} s,"
                f" peak {jobs[job]['peak_rss_mib']} MiB"
            )
    return {
        "customers": customers,
        "ledger_entries": int(entries[0]) if entries else 0,
        "database_mib": int(size[0]) / 2**20 if size else 0.0,
        "seed": {"seconds": seeded["seconds"], "customers_per_s": seeded["per_s"]},
        "operations": operations,
        **jobs,
    }


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds every `with`: scratch databases are dropped


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.samples < 1 or args.warmup < 0:
        raise SystemExit("samples must be >= 1 and warm-up >= 0")
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    log, machine = Log(), describe()
    measured: list[dict[str, Any]] = []
    failure: str | None = None
    with tempfile.TemporaryDirectory(prefix="konsort-scale-") as scratch:
        for customers in args.sizes:
            try:
                measured.append(measure_size(customers, args, Path(scratch), log))
            except Exception as exc:  # report what was measured, then fail
                failure = f"{size_label(customers)}: {type(exc).__name__}: {exc}"
                log(f"bench-scale failed: {failure}")
                break
    print(f"Konsort bench-scale on PostgreSQL: {args.samples} samples per operation")
    print(summary(machine))
    print()
    print(render_table(measured))
    document = {
        "generated_at": datetime.now(UTC).isoformat(),
        "options": {"sizes": list(args.sizes), "samples": args.samples, "warmup": args.warmup},
        "machine": machine,
        "sizes": measured,
        "failure": failure,
    }
    write_json(args.json, document)
    write_chart(args.chart, measured)
    print(f"\nwrote {args.json} and {args.chart}")
    return 1 if failure else 0


if __name__ == "__main__":
    sys.exit(main())
