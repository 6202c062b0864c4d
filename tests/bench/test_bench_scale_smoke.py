"""`make bench-scale` at a tiny size: a node seeded on PostgreSQL, every figure measured.

Needs PostgreSQL (KONSORT_TEST_DATABASE_URL, as CI sets it); skips without it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.scale import parse_sizes
from bench.scale_ops import OPERATIONS, scanned_tables
from bench.scale_report import size_label

REPO = Path(__file__).resolve().parents[2]
PG_ENV = "KONSORT_TEST_DATABASE_URL"


@pytest.mark.skipif(PG_ENV not in os.environ, reason=f"needs PostgreSQL: set {PG_ENV}")
def test_bench_scale_measures_every_operation_at_a_tiny_size(tmp_path: Path) -> None:
    out, chart = tmp_path / "scale.json", tmp_path / "scale.svg"
    completed = subprocess.run(
        [sys.executable, "-m", "bench.scale", "--sizes", "300", "--samples", "10",
         "--warmup", "1", "--postgres-url", os.environ[PG_ENV],
         "--json", str(out), "--chart", str(chart)],
        cwd=REPO, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout + completed.stderr
    document = json.loads(out.read_text())
    assert document["failure"] is None
    [size] = document["sizes"]
    assert size["customers"] == 300
    assert 6 * 300 < size["ledger_entries"] < 14 * 300  # about ten per member, plus the samples
    assert [op["key"] for op in size["operations"]] == [key for key, _, _ in OPERATIONS]
    for op in size["operations"]:
        assert op["samples"] == 10
        assert 0 < op["p50_ms"] <= op["p99_ms"], op
        assert op["label"] in completed.stdout
    for job in ("kpi", "retention"):
        assert size[job]["seconds"] > 0
        assert size[job]["peak_rss_mib"] >= size[job]["baseline_rss_mib"] > 0
    assert size["kpi"]["detail"]["enrolments"] == 300
    assert "seeded 300 customers" in completed.stderr
    svg = chart.read_text()
    assert svg.lstrip().startswith("<") and "<script" not in svg and "find by email" in svg


def test_sizes_read_like_people_write_them() -> None:
    assert parse_sizes("10k,100k,1M") == (10_000, 100_000, 1_000_000)
    assert parse_sizes("300") == (300,)
    assert [size_label(n) for n in (300, 10_000, 1_000_000, 2_500)] == ["300", "10k", "1M", "2,500"]


def test_a_scan_counts_only_on_large_tables_that_were_scanned() -> None:
    before = {"ledger_entry": (4, 90_000), "account": (10, 100), "purchase": (2, 50_000)}
    after = {"ledger_entry": (5, 90_000), "account": (20, 100), "purchase": (2, 50_000)}
    assert scanned_tables(before, after) == ["ledger_entry"]
