"""Staff view and rectify personal data over the API; every access leaves one audit entry."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from node.clock import ManualClock
from node.db import Database
from node.secrets import NodeSecrets
from node.services import profiles
from node.services.erasure import shred_personal_data_txn
from node.store import customers as customer_store
from tests.node.conftest import Operator

ADA = {"name": "Ada Lovelace", "email": "ada@example.com", "phone": "+45 1234 5678"}


def audit_rows(db: Database) -> list[dict[str, Any]]:
    with db.transaction() as session:
        rows = session.execute(text("SELECT * FROM audit_entry ORDER BY seq")).mappings().all()
    return [dict(row) for row in rows]


def profile(customer_id: str) -> str:
    return f"/api/v1/customers/{customer_id}/profile"


def patch(operator: Operator, customer_id: str, body: Any, **headers: str) -> Any:
    return operator.client.patch(
        profile(customer_id),
        json=body,
        headers={**operator.auth, "Idempotency-Key": headers.pop("key", "k-1"), **headers},
    )


def test_viewing_a_profile_shows_the_data_and_records_one_entry(
    operator: Operator, db: Database
) -> None:
    customer = operator.enrol(**ADA, birthday="1990-12-10")
    response = operator.get(profile(customer), headers={"Konsort-Purpose": "fraud_check"})
    assert response.status_code == 200, response.text
    assert response.json() == {"customer_id": customer, **ADA, "birthday": "1990-12-10"}
    [entry] = audit_rows(db)
    assert entry["action"] == "profile.view" and entry["customer_id"] == customer
    assert entry["purpose"] == "fraud_check"
    token = operator.auth["Authorization"].removeprefix("Bearer ksk_")
    assert token.startswith(f"{entry['actor']}_")  # the API key's id, not its secret
    operator.get(profile(customer))
    assert audit_rows(db)[-1]["purpose"] == "customer_service"  # the default


def test_a_malformed_purpose_is_refused_and_nothing_is_recorded(
    operator: Operator, db: Database
) -> None:
    customer = operator.enrol(**ADA)
    for bad in ("Fraud Check", "x" * 41, "ada@example.com"):
        response = operator.get(profile(customer), headers={"Konsort-Purpose": bad})
        assert response.status_code == 422
        assert response.json()["error"]["field"] == "Konsort-Purpose"
    assert audit_rows(db) == []


def test_unknown_and_erased_customers(operator: Operator, db: Database, clock: ManualClock) -> None:
    assert operator.get(profile("cus_nobody")).status_code == 404
    customer = operator.enrol(**ADA)
    with db.transaction() as session:
        shred_personal_data_txn(session=session, customer_id=customer, now=clock.now())
    for response in (
        operator.get(profile(customer)),
        patch(operator, customer, {"name": "Someone"}),
    ):
        assert response.status_code == 410
        assert response.json()["error"]["code"] == "customer_erased"
    assert audit_rows(db) == []


def test_rectification_reseals_and_moves_the_email_lookup(
    operator: Operator, db: Database, node_secrets: NodeSecrets
) -> None:
    customer = operator.enrol(**ADA)
    with db.transaction() as session:
        sealed_before = customer_store.sealed_profile(session=session, customer_id=customer)
    response = patch(operator, customer, {"email": "ada@new.example", "phone": None})
    assert response.status_code == 200, response.text
    assert response.json() == {"customer_id": customer, "changed": ["email", "phone"]}
    with db.transaction() as session:
        sealed_after = customer_store.sealed_profile(session=session, customer_id=customer)
        data = profiles.read_profile_txn(
            session=session, secrets=node_secrets, customer_id=customer
        )
    assert sealed_before is not None and sealed_after is not None
    assert sealed_after[0] == sealed_before[0] and sealed_after[1] != sealed_before[1]
    assert (data.name, data.email, data.phone) == ("Ada Lovelace", "ada@new.example", None)
    old = operator.post("/api/v1/customers/lookup", {"email": "ada@example.com"})
    assert old.status_code == 404
    new = operator.post("/api/v1/customers/lookup", {"email": "ADA@new.example"})
    assert new.status_code == 200 and new.json()["customer_id"] == customer
    actions = [(row["action"], row["detail"]) for row in audit_rows(db)]
    assert actions == [
        ("profile.change", '{"fields":["email","phone"]}'),
        ("customer.lookup", "{}"),
    ]


def test_rectification_is_idempotent_and_records_once(operator: Operator, db: Database) -> None:
    customer = operator.enrol(**ADA)
    first = patch(operator, customer, {"name": "Ada King"}, key="fix-1")
    again = patch(operator, customer, {"name": "Ada King"}, key="fix-1")
    assert first.status_code == again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json() == {"customer_id": customer, "changed": ["name"]}
    other = patch(operator, customer, {"name": "Ada Byron"}, key="fix-1")
    assert other.status_code == 409
    [entry] = audit_rows(db)
    assert (entry["action"], entry["purpose"]) == ("profile.change", "rectification")
    unchanged = patch(operator, customer, {"name": "Ada King"}, key="fix-2")
    assert unchanged.json()["changed"] == []
    assert len(audit_rows(db)) == 2  # the attempt is recorded, with no fields


def test_a_duplicate_email_is_refused_and_changes_nothing(
    operator: Operator, db: Database, node_secrets: NodeSecrets
) -> None:
    customer = operator.enrol(**ADA)
    operator.enrol(email="grace@example.com")
    response = patch(operator, customer, {"email": "Grace@example.com", "name": "Ada X"})
    assert response.status_code == 409
    assert response.json()["error"]["field"] == "email"
    assert "grace" not in response.text.lower()
    with db.transaction() as session:
        data = profiles.read_profile_txn(
            session=session, secrets=node_secrets, customer_id=customer
        )
    assert (data.email, data.name) == ("ada@example.com", "Ada Lovelace")
    assert audit_rows(db) == []


def test_bad_rectifications_are_refused(operator: Operator, db: Database) -> None:
    customer = operator.enrol(**ADA)
    for body in ({}, {"email": "not-an-email"}, {"nickname": "A"}, {"phone": "call me"}):
        response = patch(operator, customer, body, key=f"bad-{len(str(body))}")
        assert response.status_code == 422, (body, response.text)
    missing_key = operator.client.patch(
        profile(customer), json={"name": "X"}, headers=operator.auth
    )
    assert missing_key.status_code == 400
    assert audit_rows(db) == []


def test_lookup_records_only_when_found(operator: Operator, db: Database) -> None:
    customer = operator.enrol(**ADA)
    assert operator.post("/api/v1/customers/lookup", {"email": "no@example.com"}).status_code == 404
    assert audit_rows(db) == []
    found = operator.post(
        "/api/v1/customers/lookup",
        {"email": "ada@example.com"},
        headers={"Konsort-Purpose": "technical_support"},
    )
    assert found.json() == {"customer_id": customer}
    [entry] = audit_rows(db)
    assert (entry["action"], entry["customer_id"], entry["purpose"]) == (
        "customer.lookup",
        customer,
        "technical_support",
    )


def test_the_audit_log_holds_no_personal_data(operator: Operator, db: Database) -> None:
    customer = operator.enrol(**ADA, birthday="1990-12-10")
    operator.get(profile(customer))
    patch(operator, customer, {"name": "Ada King", "email": "king@example.com"})
    operator.post("/api/v1/customers/lookup", {"email": "king@example.com"})
    rows = audit_rows(db)
    assert [row["action"] for row in rows] == ["profile.view", "profile.change", "customer.lookup"]
    # Every column but the hex hashes (which could hold any digits by chance).
    stored = repr([{k: v for k, v in row.items() if "hash" not in k} for row in rows]).lower()
    for value in ("lovelace", "ada king", "king@", "example.com", "1234 5678", "1990-12"):
        assert value not in stored, value
