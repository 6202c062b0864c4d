"""The shredding primitive: personal rows go, the ledger stays, a repeat is harmless."""

from __future__ import annotations

from node.clock import ManualClock
from node.db import Database
from node.services.erasure import ERASED, shred_personal_data_txn
from node.store import customers as store
from tests.node.conftest import Operator


def test_shredding_removes_key_and_profile_and_keeps_the_ledger(
    operator: Operator, db: Database, clock: ManualClock
) -> None:
    customer_id = operator.enrol(email="shred@example.com", name="Shred Me")
    assert operator.earn(customer_id, 5000).status_code == 201
    with db.transaction() as session:
        first = shred_personal_data_txn(session=session, customer_id=customer_id, now=clock.now())
    assert first.deleted["customer_key"] == 1
    assert first.deleted["customer_profile"] == 1
    with db.transaction() as session:
        assert store.sealed_profile(session=session, customer_id=customer_id) is None
        status = store.customer_status(session=session, customer_id=customer_id)
        assert status is not None and status[0] == ERASED
        again = shred_personal_data_txn(session=session, customer_id=customer_id, now=clock.now())
    assert set(again.deleted.values()) == {0}
    balance = operator.get(f"/api/v1/customers/{customer_id}/balance")
    assert balance.status_code == 200
    assert balance.json()["points"] == 50
    lookup = operator.post("/api/v1/customers/lookup", {"email": "shred@example.com"})
    assert lookup.status_code == 404
