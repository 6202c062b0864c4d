"""The paid-membership routes: refusals change nothing, retries replay, members read their own."""

from __future__ import annotations

import pytest

from node.db import Database
from tests.node.program.cafe import APPLIED_AT, Till, dk, error_of
from tests.node.program.club import club_program, events_of, membership, pay


@pytest.fixture
def club(till: Till) -> Till:
    till.at(APPLIED_AT).apply(club_program(), comment="café and club")
    return till


def test_a_payment_must_be_the_plan_s_fee_for_a_known_plan(club: Till, db: Database) -> None:
    ann = club.at(dk(2026, 2, 2, 10)).join()
    path = f"/api/v1/customers/{ann}/membership/payments"
    wrong_fee = club.post(path, {"plan": "bonne-club", "amount": 4800})
    assert wrong_fee.status_code == 422
    assert error_of(wrong_fee)["code"] == "fee_mismatch"
    assert error_of(wrong_fee)["field"] == "amount"
    unknown = club.post(path, {"plan": "gold-club", "amount": 4900})
    assert (unknown.status_code, error_of(unknown)["code"]) == (422, "plan_unknown")
    euro = club.post(path, {"plan": "bonne-club", "amount": 4900, "currency": "EUR"})
    assert euro.status_code == 422
    assert membership(club, ann)["state"] == "none"
    assert events_of(db) == [e for e in events_of(db) if e["type"] == "customer.enrolled"]


def test_a_retried_payment_renews_once(club: Till) -> None:
    bo = club.at(dk(2026, 2, 2, 10)).join()
    path = f"/api/v1/customers/{bo}/membership/payments"
    first = club.post(path, {"plan": "bonne-club", "amount": 4900}, key="pay-1")
    again = club.post(path, {"plan": "bonne-club", "amount": 4900}, key="pay-1")
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert len(membership(club, bo)["history"]) == 1


def test_the_period_guard_refuses_paying_one_period_twice(club: Till) -> None:
    cleo = club.at(dk(2026, 2, 2, 10)).join()
    pay(club, cleo)
    renewal = pay(club.at(dk(2026, 2, 27, 10)), cleo, period="2026-03-02T09:00:00Z")
    assert renewal["period_start"] == "2026-03-02T09:00:00Z"
    twice = club.post(
        f"/api/v1/customers/{cleo}/membership/payments",
        {"plan": "bonne-club", "amount": 4900, "period": "2026-03-02T09:00:00Z"},
    )
    assert twice.status_code == 409
    assert error_of(twice)["code"] == "period_mismatch"
    assert membership(club, cleo)["period_end"] == "2026-04-02T09:00:00Z"


def test_cancel_and_resume_need_a_live_membership(club: Till) -> None:
    dan = club.at(dk(2026, 2, 2, 10)).join()
    cancel = club.post(f"/api/v1/customers/{dan}/membership/cancel")
    assert (cancel.status_code, error_of(cancel)["code"]) == (409, "membership_not_active")
    pay(club, dan)
    resume = club.post(f"/api/v1/customers/{dan}/membership/resume")
    assert (resume.status_code, error_of(resume)["code"]) == (409, "membership_not_resumable")
    assert club.post(f"/api/v1/customers/{dan}/membership/cancel").status_code == 201
    late = club.at(dk(2026, 3, 2, 12)).post(f"/api/v1/customers/{dan}/membership/resume")
    assert late.status_code == 409
    assert membership(club, dan)["state"] == "cancelled"


def test_a_refund_rule_of_none_gives_nothing_back(till: Till) -> None:
    till.at(APPLIED_AT).apply(club_program(**{'refund = "pro_rata"': 'refund = "none"'}))
    eva = till.at(dk(2026, 2, 2, 10)).join()
    pay(till, eva)
    cancelled = till.at(dk(2026, 2, 3, 10)).post(
        f"/api/v1/customers/{eva}/membership/cancel", {"at_once": True}
    )
    assert cancelled.json()["refund"] == 0


def test_a_member_reads_their_own_membership(club: Till) -> None:
    frida = club.at(dk(2026, 2, 2, 10)).join()
    pay(club, frida)
    token = club.post(f"/api/v1/customers/{frida}/tokens").json()["token"]
    mine = club.client.get(
        "/api/v1/me/membership", headers={"Authorization": f"Bearer {token}"}
    ).json()
    assert mine["customer_id"] == frida and mine["plan"] == "bonne-club"
    assert mine["flags"] == ["free-refill", "member-prices"]
    assert club.get("/api/v1/customers/cus_nobody/membership").status_code == 404
