"""`python -m bench --quick` measures every row, over real processes, without errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bench.generator import percentile
from bench.load import LoadResult
from bench.report import Row, Table
from tests.conftest import PG_ENV

REPO = Path(__file__).resolve().parents[2]
ROWS = [
    "ceiling.hello",
    "ceiling.sqlite.txn",
    "node.sqlite.earn",
    "node.sqlite.redeem",
    "node.sqlite.balance",
    "node.sqlite.earn_program",
    "node.sqlite.earn_after",
    "federation.sqlite.transfer",
]
WRITE_ROWS = {
    "node.sqlite.earn",
    "node.sqlite.redeem",
    "node.sqlite.earn_program",
    "node.sqlite.earn_after",
}
#: With PostgreSQL at hand the run measures both databases, as `make bench` does.
PG_ROWS = [
    "ceiling.postgresql.txn",
    "node.postgresql.earn",
    "node.postgresql.redeem",
    "node.postgresql.balance",
    "node.postgresql.earn_program",
    "node.postgresql.earn_after",
]


def test_quick_bench_measures_every_row(tmp_path: Path) -> None:
    out = tmp_path / "latest.json"
    both = PG_ENV in os.environ
    database = (
        ["--database", "both", "--postgres-url", os.environ[PG_ENV]]
        if both
        else ["--database", "sqlite"]
    )
    completed = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", *database, "--json", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    document = json.loads(out.read_text())
    assert document["failure"] is None
    if both:
        assert sorted(row["key"] for row in document["rows"]) == sorted(ROWS + PG_ROWS)
    else:
        assert [row["key"] for row in document["rows"]] == ROWS
    for row in document["rows"]:
        assert row["ok"] > 0 and row["rate"] > 0, row
        assert row["errors"] == 0, row
        assert 0 < row["p50_ms"] <= row["p99_ms"] <= row["max_ms"], row
        assert row["label"] in completed.stdout
        writes = row["key"].replace("postgresql", "sqlite") in WRITE_ROWS
        assert (row["ceiling_ratio"] is not None) == writes, row
    assert {target["name"] for target in document["targets"]} == {
        "earns/s",
        "earn p99 ms",
        "earn / ceiling",
        "program / flat",
        "transfers/s",
    }
    assert "enrolling and funding 100 customers" in completed.stderr  # progress lines


def test_percentile_is_nearest_rank() -> None:
    ordered = [float(n) for n in range(1, 101)]
    assert percentile(ordered, 0.50) == 50.0
    assert percentile(ordered, 0.99) == 99.0
    assert percentile(ordered, 1.0) == 100.0
    assert percentile([], 0.99) == 0.0


def _result(ok: int) -> LoadResult:
    return LoadResult(
        ok=ok,
        errors=0,
        seconds=2.0,
        p50_ms=1.0,
        p99_ms=2.0,
        p999_ms=3.0,
        max_ms=4.0,
        mean_ms=1.5,
        server_cpu=0.9,
        client_cpu=0.1,
        machine_cpu=1.0,
        error_samples=[],
    )


def test_table_compares_write_rows_with_their_ceiling() -> None:
    ceiling = Row("ceiling.sqlite.txn", "ceiling txn", "txn/s", _result(4000))
    earn = Row("node.sqlite.earn", "node earn", "earns/s", _result(3000), "ceiling.sqlite.txn")
    table = Table([ceiling, earn])
    assert table.ratio(earn) == 0.75
    assert table.ratio(ceiling) is None
    assert "75%" in table.render()
    met = {target.name: target.met for target in table.targets()}
    assert met == {"earns/s": True, "earn p99 ms": True, "earn / ceiling": True}


def test_the_program_row_compares_with_the_flat_rows_before_and_after_it() -> None:
    before = Row("node.sqlite.earn", "earn", "earns/s", _result(3000))
    program = Row(
        "node.sqlite.earn_program",
        "program",
        "earns/s",
        _result(2000),
        "node.sqlite.earn",
        "node.sqlite.earn_after",
    )
    after = Row("node.sqlite.earn_after", "earn after", "earns/s", _result(2000))
    # Mean of the flat rows: 2500 earns/s, so the program keeps 80 %.
    assert Table([before, program, after]).ratio(program) == 0.8
    targets = {t.name: t for t in Table([before, program, after]).targets()}
    assert targets["program / flat"].value == 0.8 and targets["program / flat"].met
    # Without the row after, the row before alone.
    assert Table([before, program]).ratio(program) == 2000 / 3000
