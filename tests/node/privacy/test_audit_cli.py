"""`konsort audit verify` and `konsort audit show`."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from node.clock import ManualClock
from node.db import Database
from node.services import audit
from tests.node.test_cli import konsort


@pytest.fixture
def node_dir(tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]) -> Path:
    directory = tmp_path / "cafe"
    init = ("--data-dir", str(directory), "init", "--node-id", "cafe")
    code, out, _ = konsort(capsys, *init, "--database-url", database_url)
    assert code == 0, out
    return directory


def record(database_url: str, customer_id: str, n: int) -> None:
    db = Database(database_url)
    clock = ManualClock()
    try:
        for _ in range(n):
            with db.transaction() as session:
                audit.record_txn(
                    session=session,
                    actor="key_till",
                    action="profile.view",
                    customer_id=customer_id,
                    purpose="customer_service",
                    now=clock.now(),
                    detail={"fields": ["name"]},
                )
    finally:
        db.dispose()


def test_verify_exits_0_on_a_sound_chain_and_1_on_a_broken_one(
    node_dir: Path,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    base = ("--data-dir", str(node_dir), "audit", "verify")
    code, out, _ = konsort(capsys, *base)
    assert code == 0 and "audit chain OK: 0 entries" in out
    record(database_url, "cus_a", 4)
    code, out, _ = konsort(capsys, *base)
    assert code == 0 and "OK: 4 entries" in out
    db = Database(database_url)
    suffix = "" if db.is_sqlite else " ON audit_entry"
    with db.transaction() as session:
        session.execute(text(f"DROP TRIGGER audit_entry_no_update{suffix}"))
        session.execute(text("UPDATE audit_entry SET customer_id = 'cus_b' WHERE seq = 3"))
    db.dispose()
    code, out, _ = konsort(capsys, *base)
    assert code == 1
    assert "BROKEN at seq 3: hash does not match" in out
    code, out, _ = konsort(capsys, *base, "--json")
    assert code == 1 and '"first_bad_seq": 3' in out


def test_show_lists_the_newest_entries(
    node_dir: Path,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    record(database_url, "cus_a", 3)
    record(database_url, "cus_b", 2)
    base = ("--data-dir", str(node_dir), "audit", "show")
    code, out, _ = konsort(capsys, *base, "--limit", "2", "--customer", "cus_a")
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("seq\tat\tactor")
    assert [line.split("\t")[0] for line in lines[1:]] == ["2", "3"]
    assert 'cus_a\tcustomer_service\t{"fields":["name"]}' in lines[1]
    code, out, _ = konsort(capsys, *base)
    assert [line.split("\t")[4] for line in out.splitlines()[1:]] == ["cus_a"] * 3 + ["cus_b"] * 2
    with pytest.raises(SystemExit):
        konsort(capsys, *base, "--limit", "0")
