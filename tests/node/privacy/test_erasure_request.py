"""Approved erasure and rectification: what goes, what stays, and why."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from node.clock import ManualClock
from node.db import Database
from node.services.erasure_requests import retained_until
from node.store import ledger_checks
from tests.node.conftest import Operator
from tests.node.privacy.helpers import MINE, STAFF, Member, approve, staff_file, verify_in_person


def _count(db: Database, sql: str, **params: object) -> int:
    with db.read() as session:
        return int(session.execute(text(sql), params).scalar_one())


def test_retained_until_is_five_years_after_the_financial_year() -> None:
    assert retained_until(datetime(2026, 3, 5).date(), "12-31").isoformat() == "2031-12-31"
    assert retained_until(datetime(2026, 12, 31).date(), "12-31").isoformat() == "2031-12-31"
    assert retained_until(datetime(2026, 7, 1).date(), "06-30").isoformat() == "2032-06-30"


def test_an_approved_erasure_shreds_forfeits_and_says_what_was_kept(
    operator: Operator, db: Database, clock: ManualClock
) -> None:
    clock.set(datetime(2026, 5, 4, 12, tzinfo=UTC))
    ann = operator.enrol(name="Ann", email="ann@example.com")
    bob = operator.enrol(name="Bob")
    operator.earn(ann, 25000)
    operator.earn(bob, 10000)
    with db.read() as session:
        totals_before = ledger_checks.ledger_totals_by_unit(session=session)
    member = Member(operator, ann)
    request_id = member.post(MINE, {"type": "erasure"}).json()["id"]
    done = approve(operator, request_id)
    assert done.status_code == 200, done.text
    outcome = done.json()["outcome"]
    assert outcome["forfeited_points"] == 250
    assert outcome["retained_until"] == "2031-12-31"
    assert {item["category"] for item in outcome["kept"]} == {
        "ledger",
        "purchases",
        "clearing",
        "settlement",
    }
    assert all(
        "Bookkeeping" in item["why"] and item["until"] == "2031-12-31" for item in outcome["kept"]
    )
    for table in ("customer_key", "customer_profile"):
        assert _count(db, f"SELECT count(*) FROM {table} WHERE customer_id = :c", c=ann) == 0
    assert _count(db, "SELECT count(*) FROM customer_profile WHERE customer_id = :c", c=bob) == 1
    with db.read() as session:
        assert ledger_checks.ledger_totals_by_unit(session=session) == totals_before
        assert all(value == 0 for value in totals_before.values())
        assert ledger_checks.unbalanced_transactions(session=session) == []
        assert ledger_checks.drifted_balances(session=session) == []
    assert _count(db, "SELECT balance FROM account WHERE code = :code", code=f"customer:{ann}") == 0
    # The member's answer says the same.
    seen = member.get(f"{MINE}/{request_id}").json()
    assert seen["state"] == "done" and seen["outcome"]["retained_until"] == "2031-12-31"
    # No further requests once erased.
    refused = member.post(MINE, {"type": "access"})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "customer_erased"
    staff = operator.post(STAFF, {"customer_id": ann, "type": "access", "channel": "email"})
    assert staff.status_code == 409


def test_an_erasure_cannot_be_approved_before_verification(
    operator: Operator, db: Database
) -> None:
    customer = operator.enrol(name="Ann")
    request_id = staff_file(operator, customer, "erasure")
    refused = approve(operator, request_id)
    assert refused.status_code == 409
    assert _count(db, "SELECT count(*) FROM customer_key WHERE customer_id = :c", c=customer) == 1


def test_rectification_applies_and_leaves_no_plain_values(operator: Operator, db: Database) -> None:
    customer = operator.enrol(name="Ann Aker", email="ann@example.com")
    member = Member(operator, customer)
    filed = member.post(
        MINE,
        {"type": "rectification", "changes": {"name": "Ann Berg"}, "details": "I married"},
    )
    assert filed.status_code == 201, filed.text
    request_id = filed.json()["id"]
    with db.read() as session:
        sealed = session.execute(
            text("SELECT sealed_payload FROM subject_request WHERE public_id = :i"),
            {"i": request_id},
        ).scalar_one()
    assert sealed is not None and b"Berg" not in bytes(sealed) and b"married" not in bytes(sealed)
    done = approve(operator, request_id)
    assert done.status_code == 200, done.text
    assert done.json()["outcome"]["fields_changed"] == ["name"]
    with db.read() as session:
        left = session.execute(
            text("SELECT sealed_payload, outcome FROM subject_request WHERE public_id = :i"),
            {"i": request_id},
        ).one()
    assert left[0] is None and "Berg" not in left[1]
    access = member.post(MINE, {"type": "access"}).json()["id"]
    approve(operator, access)
    import io
    import json
    import zipfile

    archive = zipfile.ZipFile(io.BytesIO(member.get(f"{MINE}/{access}/export").content))
    profile = json.loads(archive.read("export.json"))["sections"]["profile"][0]
    assert profile["name"] == "Ann Berg" and profile["email"] == "ann@example.com"


def test_retention_removes_closed_requests_only(
    operator: Operator, db: Database, clock: ManualClock
) -> None:
    from datetime import timedelta

    from node.services import subject_requests

    customer = operator.enrol(name="Ann")
    closed = staff_file(operator, customer)
    operator.post(f"{STAFF}/{closed}/reject", {"reason": "duplicate"})
    open_ = staff_file(operator, customer)
    verify_in_person(operator, open_)
    clock.advance(timedelta(days=1))
    with db.transaction() as session:
        due = subject_requests.retention_due_txn(session=session, cutoff=clock.now(), limit=10)
        assert due == [closed]
        assert (
            subject_requests.retention_apply_txn(
                session=session, ids=[closed, open_], now=clock.now()
            )
            == 1
        )
    assert operator.get(f"{STAFF}/{closed}").status_code == 404
    assert operator.get(f"{STAFF}/{open_}").status_code == 200
