"""GET /api/v1/audit pages through the log; GET /api/v1/audit/verify checks the chain."""

from __future__ import annotations

from sqlalchemy import text

from node.db import Database
from tests.node.conftest import Operator


def test_audit_pages_filter_by_customer(operator: Operator) -> None:
    ada = operator.enrol(email="ada@example.com")
    grace = operator.enrol(email="grace@example.com")
    for customer in (ada, grace, ada, ada):
        assert operator.get(f"/api/v1/customers/{customer}/profile").status_code == 200
    first = operator.get("/api/v1/audit", params={"customer_id": ada, "limit": 2}).json()
    assert [item["seq"] for item in first["items"]] == [1, 3]
    assert first["items"][0]["detail"] == {"fields": ["email"]}
    assert first["next_after_seq"] == 3
    rest = operator.get(
        "/api/v1/audit", params={"customer_id": ada, "after_seq": first["next_after_seq"]}
    ).json()
    assert [item["seq"] for item in rest["items"]] == [4] and rest["next_after_seq"] is None
    everything = operator.get("/api/v1/audit").json()["items"]
    assert [item["customer_id"] for item in everything] == [ada, grace, ada, ada]


def test_audit_query_is_validated_and_needs_a_key(operator: Operator) -> None:
    for params in ({"limit": "0"}, {"after_seq": "-1"}, {"customer_id": "a@b"}, {"x": "1"}):
        assert operator.get("/api/v1/audit", params=params).status_code == 422
    assert operator.client.get("/api/v1/audit").status_code == 401
    assert operator.client.get("/api/v1/audit/verify").status_code == 401


def test_verify_endpoint_reports_a_broken_chain(operator: Operator, db: Database) -> None:
    customer = operator.enrol(email="ada@example.com")
    for _ in range(3):
        operator.get(f"/api/v1/customers/{customer}/profile")
    sound = operator.get("/api/v1/audit/verify").json()
    assert sound["ok"] is True and sound["checked"] == 3 and sound["head_seq"] == 3
    suffix = "" if db.is_sqlite else " ON audit_entry"
    with db.transaction() as session:
        session.execute(text(f"DROP TRIGGER audit_entry_no_update{suffix}"))
        session.execute(text("UPDATE audit_entry SET action = 'profile.change' WHERE seq = 2"))
    broken = operator.get("/api/v1/audit/verify").json()
    assert broken["ok"] is False and broken["first_bad_seq"] == 2 and broken["checked"] == 1
