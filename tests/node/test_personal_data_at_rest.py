"""Personal fields never reach the database, the logs or the answers in plain form."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import text

from node.clock import ManualClock
from node.db import Database
from node.logs import JsonFormatter
from node.secrets import NodeSecrets
from node.services import customers
from tests.factories import make_customer
from tests.node.conftest import Operator

ANN = {"name": "Annelise Østergård", "email": "annelise@example.dk", "phone": "+45 12 34 56 78"}


def all_cells(db: Database) -> bytes:
    """Every value of every table, as bytes (works the same on both backends)."""
    dump = b""
    with db.read() as session:
        tables = [
            "customer",
            "customer_profile",
            "customer_key",
            "account",
            "ledger_transaction",
            "idempotency_record",
            "purchase",
        ]
        for table in tables:
            for row in session.execute(text(f"SELECT * FROM {table}")):
                for cell in row:
                    dump += cell if isinstance(cell, bytes) else str(cell).encode()
    return dump


def test_the_database_holds_no_plain_personal_data(
    db: Database, database_url: str, node_secrets: NodeSecrets, clock: ManualClock
) -> None:
    customer = make_customer(db, node_secrets, clock, **ANN)
    dump = all_cells(db)
    if database_url.startswith("sqlite"):
        path = Path(database_url.removeprefix("sqlite:///"))
        dump += path.read_bytes() + Path(f"{path}-wal").read_bytes()
    for value in ANN.values():
        assert value.encode() not in dump
        assert value.lower().encode() not in dump
    profile = customers.read_profile(db, secrets=node_secrets, customer_id=customer)
    assert (profile.name, profile.email) == (ANN["name"], ANN["email"])


def test_another_master_key_cannot_read_the_profile(
    db: Database, node_secrets: NodeSecrets, clock: ManualClock
) -> None:
    customer = make_customer(db, node_secrets, clock, **ANN)
    with pytest.raises(Exception):  # noqa: B017 - any failure to decrypt will do
        customers.read_profile(db, secrets=NodeSecrets.generate(), customer_id=customer)


def test_logs_and_errors_carry_no_personal_data(
    operator: Operator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    customer = operator.enrol(**ANN)
    operator.earn(customer, 100)
    duplicate = operator.post("/api/v1/customers", ANN)
    bad = operator.post("/api/v1/customers", {**ANN, "email": "annelise-at-example"})
    formatter = JsonFormatter()
    written = "\n".join(formatter.format(record) for record in caplog.records)
    for value in ANN.values():
        assert value not in written
        assert value not in duplicate.text
        assert value not in bad.text


def test_the_stored_request_digest_of_an_enrolment_is_keyed(
    db: Database, node_secrets: NodeSecrets, clock: ManualClock
) -> None:
    from node.services.idempotency import request_digest
    from node.services.personal_data import PersonalData

    make_customer(db, node_secrets, clock, **ANN)
    guess = PersonalData(**ANN).model_dump(mode="json")
    unkeyed = {request_digest("enrol", guess), request_digest("enrol", {"personal": guess})}
    with db.read() as session:
        stored = set(
            session.execute(text("SELECT request_digest FROM idempotency_record")).scalars()
        )
    assert stored and not stored & unkeyed
