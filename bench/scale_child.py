"""One whole-node run in a process of its own, for its time and peak memory.

``python -m bench.scale_child kpi|retention --data-dir DIR`` runs the KPI
report over the last year (by month) or a retention dry run of every policy,
and prints one JSON line: seconds, the process's peak resident memory
(``resource.getrusage``) before and after the run. Only a fresh process says
honestly what one run needs: the bench's own process holds a million ids.

The retention dry run counts members inactive for 180 days (instead of the
default three years), so that on a seeded node, whose history spans 330
days, about a third of the members are due and the count has work to do.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from datetime import timedelta
from pathlib import Path

INACTIVE_DAYS = 180


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale_child")
    parser.add_argument("job", choices=("kpi", "retention"))
    parser.add_argument("--data-dir", type=Path, required=True)
    args = parser.parse_args(argv)

    from node.clock import SystemClock
    from node.db import Database
    from node.services import kpis, retention
    from node.settings import load_settings

    settings = load_settings(
        args.data_dir / "konsort.toml",
        environ={},
        data_dir=args.data_dir,
        retention_inactive_customer_days=INACTIVE_DAYS,
    )
    db = Database(settings.resolved_database_url)
    clock = SystemClock()
    with db.read() as session:  # connect before the baseline
        session.connection()
    baseline = _peak_rss_mib()
    started = time.perf_counter()
    detail: dict[str, object]
    if args.job == "kpi":
        today = clock.now().date()
        report = kpis.kpi_report(
            db, start=today - timedelta(days=365), end=today + timedelta(days=1), period="month"
        )
        detail = {
            "buckets": len(report.buckets),
            "enrolments": report.totals.enrolments,
            "active_members": report.totals.active_members,
        }
    else:
        run = retention.run_retention(
            db, settings, clock=clock, dry_run=True, trigger="cli", actor="bench"
        )
        found = retention.run_json(run)["categories"]
        detail = {result["category"]: result.get("due", 0) for result in found}
    seconds = time.perf_counter() - started
    db.dispose()
    print(
        json.dumps(
            {
                "job": args.job,
                "seconds": seconds,
                "baseline_rss_mib": round(baseline, 1),
                "peak_rss_mib": round(_peak_rss_mib(), 1),
                "detail": detail,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
