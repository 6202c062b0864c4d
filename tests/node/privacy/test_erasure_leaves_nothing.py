"""Done-when for erasure: after an approved erasure, the customer's name, email and
phone are nowhere in the database file, its WAL or the node's logs (SQLite), or in
any table (PostgreSQL); the sealed profile and wrapped key are gone as bytes too;
and the ledger still balances with every earlier entry intact."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from node.app import create_app
from node.clock import ManualClock
from node.db import Database
from node.logs import JsonFormatter
from node.secrets import NodeSecrets
from node.services.apikeys import create_api_key
from node.services.verification import verify_ledger
from node.settings import Settings
from tests.node.conftest import Operator

NAME = "Ingrid Zyxwortel"
EMAIL = "ingrid.zyxwortel@example.com"
PHONE = "+47 912 34 567"
NEEDLES = [NAME.encode(), EMAIL.encode(), PHONE.encode(), b"Zyxwortel", b"zyxwortel"]


@pytest.fixture
def log_file(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "node.log"
    handler = logging.FileHandler(path)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("konsort")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield path
    logger.removeHandler(handler)
    logger.setLevel(old_level)
    handler.close()


def _ledger_snapshot(db: Database) -> tuple[int, list[tuple[int, int, int]]]:
    """The sum over all accounts (the books balance) and every entry written so far."""
    report = verify_ledger(db)
    assert report.ok, report
    with db.read() as session:
        entries = session.execute(
            text("SELECT id, account_id, amount FROM ledger_entry ORDER BY id")
        ).all()
    return sum(report.totals.values()), [(row[0], row[1], row[2]) for row in entries]


def _secret_bytes(db: Database, customer_id: str) -> list[bytes]:
    with db.read() as session:
        sealed = session.execute(
            text("SELECT sealed FROM customer_profile WHERE customer_id = :c"), {"c": customer_id}
        ).scalar_one()
        wrapped = session.execute(
            text("SELECT wrapped_key FROM customer_key WHERE customer_id = :c"), {"c": customer_id}
        ).scalar_one()
    return [bytes(sealed), bytes(wrapped)]


def test_erasure_leaves_no_personal_data_behind(
    settings: Settings,
    db: Database,
    clock: ManualClock,
    node_secrets: NodeSecrets,
    log_file: Path,
    backend: str,
) -> None:
    debug_settings = settings.model_copy(update={"log_level": "DEBUG"})
    app = create_app(debug_settings, clock=clock, secrets=node_secrets, database=db, run_jobs=False)
    with TestClient(app, base_url="http://cafe.test") as client:
        op = Operator(client, create_api_key(db, name="till", now=clock.now()).token)
        other = op.enrol(name="Other Person", email="other.person@example.com")
        customer = op.enrol(name=NAME, email=EMAIL, phone=PHONE, birthday="1990-04-02")
        assert op.earn(customer, 12_345).status_code == 201
        assert op.earn(other, 5_000).status_code == 201
        # Staff touch the personal data the usual ways first.
        assert op.post("/api/v1/customers/lookup", {"email": EMAIL}).status_code == 200
        assert op.get(f"/api/v1/customers/{customer}/profile").json()["name"] == NAME
        export = _file_and_approve(op, customer, "access")
        assert op.get(f"/api/v1/privacy/requests/{export}/export").status_code == 200
        secrets_before = _secret_bytes(db, customer)
        total_before, entries_before = _ledger_snapshot(db)

        erasure = _file_and_approve(op, customer, "erasure")
        shown = op.get(f"/api/v1/privacy/requests/{erasure}").json()
        assert shown["state"] == "done"

        assert op.get(f"/api/v1/customers/{customer}/profile").status_code == 410
        assert op.post("/api/v1/customers/lookup", {"email": EMAIL}).status_code == 404

    total_after, entries_after = _ledger_snapshot(db)
    assert total_after == total_before
    assert entries_after[: len(entries_before)] == entries_before

    if backend == "sqlite":
        database_file = Path(debug_settings.data_dir) / "konsort.db"
        files = [p for p in database_file.parent.glob("konsort.db*")]
        assert database_file in files
        for path in [*files, log_file]:
            content = path.read_bytes()
            for needle in [*NEEDLES, *secrets_before]:
                assert needle not in content, f"{needle[:20]!r} found in {path.name}"
    else:
        _scan_every_postgresql_table(db, [*NEEDLES, *secrets_before])
        content = log_file.read_bytes()
        for needle in NEEDLES:
            assert needle not in content


def _file_and_approve(op: Operator, customer: str, kind: str) -> str:
    filed = op.post(
        "/api/v1/privacy/requests",
        {"customer_id": customer, "type": kind, "channel": "in_person"},
    )
    assert filed.status_code == 201, filed.text
    request_id = filed.json()["id"]
    verified = op.post(
        f"/api/v1/privacy/requests/{request_id}/verify", {"method": "in_person_document"}
    )
    assert verified.status_code == 200, verified.text
    approved = op.post(f"/api/v1/privacy/requests/{request_id}/approve", {})
    assert approved.status_code == 200, approved.text
    return str(request_id)


def _scan_every_postgresql_table(db: Database, needles: list[bytes]) -> None:
    with db.read() as session:
        tables = session.execute(
            text(
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
            )
        ).scalars()
        for table in list(tables):
            rows = session.execute(text(f'SELECT t::text FROM "{table}" t')).scalars()
            for row in rows:
                raw = row.encode()
                for needle in needles:
                    assert needle not in raw, f"{needle[:20]!r} in table {table}"
                    assert needle.hex().encode() not in raw, f"{needle[:20]!r} (hex) in {table}"
