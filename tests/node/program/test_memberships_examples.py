"""The worked examples of docs/program.md on paid membership and engagement
("Example P1" ..., "Example E1" ...), each one a test with the doc's numbers."""

from __future__ import annotations

import re

import pytest

from node.db import Database
from node.services.memberships import advance_memberships
from node.settings import Settings
from tests.node.program.cafe import APPLIED_AT, DOC, Till, dk, error_of
from tests.node.program.club import act, club_program, events_of, ledger_ok, membership, pay


@pytest.fixture
def club(till: Till) -> Till:
    """The café with the Bønne Club lines of docs/program.md added (version 1)."""
    answer = till.at(APPLIED_AT).apply(club_program(), comment="café and club")
    assert answer["version"] == 1
    return till


def test_every_club_example_has_its_test() -> None:
    headings = re.findall(r"^### (Example ([PE]\d+): .+)$", DOC.read_text(), re.MULTILINE)
    assert headings
    expected = {
        "test_example_" + re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_").split("_", 1)[1]
        for title, _ in headings
    }
    written = {name for name in globals() if name.startswith("test_example_")}
    assert expected == written


def test_example_p1_a_plan_s_renewal_and_lapse(
    club: Till, db: Database, settings: Settings
) -> None:
    ann = club.at(dk(2026, 2, 2, 9)).join()
    started = pay(club.at(dk(2026, 2, 2, 10)), ann)
    assert started["state"] == "active" and started["paid"] == "started"
    assert started["period_end"] == "2026-03-02T09:00:00Z"
    assert [e["type"] for e in events_of(db, "membership.started")] == ["membership.started"]

    advance_memberships(db, settings, now=dk(2026, 2, 25, 9, 59))
    assert events_of(db, "membership.renewal_due") == []
    advance_memberships(db, settings, now=dk(2026, 2, 25, 10))
    advance_memberships(db, settings, now=dk(2026, 2, 26, 10))
    assert len(events_of(db, "membership.renewal_due")) == 1

    renewed = pay(club.at(dk(2026, 3, 3, 12)), ann)
    assert renewed["paid"] == "renewed"
    assert renewed["period_start"] == "2026-03-02T09:00:00Z"
    assert renewed["period_end"] == "2026-04-02T09:00:00Z"  # 11:00 in Danish summer time

    in_grace = membership(club.at(dk(2026, 4, 5, 12)), ann)
    assert in_grace["state"] == "grace" and in_grace["benefits"] is True
    assert in_grace["benefits_until"] == "2026-04-09T09:00:00Z"
    assert in_grace["flags"] == ["free-refill", "member-prices"]
    bought = club.buy(ann, 10000)
    assert bought["transaction"]["points"] == 150
    assert bought["earning"]["membership"] == {"plan": "bonne-club", "percent": 150}

    advance_memberships(db, settings, now=dk(2026, 4, 10, 12))
    advance_memberships(db, settings, now=dk(2026, 4, 10, 13))
    assert len(events_of(db, "membership.lapsed")) == 1
    lapsed = membership(club.at(dk(2026, 4, 10, 13)), ann)
    assert lapsed["state"] == "lapsed" and lapsed["flags"] == []
    assert [h["change"] for h in lapsed["history"]] == [
        "lapsed",
        "grace",
        "renewed",
        "grace",
        "started",
    ]
    later = club.buy(ann, 10000)
    assert later["transaction"]["points"] == 100
    assert "membership" not in later["earning"]
    ledger_ok(db)


def test_example_p2_a_silver_member_in_the_club_earns_the_better_multiplier(
    club: Till, db: Database
) -> None:
    erik = club.at(dk(2026, 2, 20, 9)).join()
    assert club.buy(erik, 150000)["earning"]["new_tier"] == "silver"
    pay(club, erik)
    bought = club.at(dk(2026, 2, 20, 12)).buy(erik, 10000)
    assert bought["transaction"]["points"] == 150
    assert bought["earning"]["tier_percent"] == 110

    club.apply(club_program(**{"stack_with_tiers = false": "stack_with_tiers = true"}))
    stacked = club.at(dk(2026, 2, 20, 13)).buy(erik, 10000)
    assert stacked["transaction"]["points"] == 160
    ledger_ok(db)


def test_example_p3_cancelling_at_once_with_a_pro_rata_refund(club: Till, db: Database) -> None:
    bo = club.at(dk(2026, 2, 1, 10)).join()
    assert pay(club, bo)["period_end"] == "2026-03-01T09:00:00Z"
    response = club.at(dk(2026, 2, 15, 16)).post(
        f"/api/v1/customers/{bo}/membership/cancel", {"at_once": True}
    )
    assert response.status_code == 201, response.text
    cancelled = response.json()
    assert cancelled["refund"] == 2406
    assert cancelled["state"] == "cancelled" and cancelled["benefits"] is False
    assert events_of(db, "membership.cancelled")[0]["refund"] == 2406
    assert membership(club, bo)["history"][0] == {
        "change": "cancelled",
        "plan": "bonne-club",
        "period_start": "2026-02-01T09:00:00Z",
        "period_end": "2026-03-01T09:00:00Z",
        "amount": -2406,
        "at": "2026-02-15T15:00:00Z",
    }


def test_example_p4_cancel_at_period_end_then_resume(club: Till, db: Database) -> None:
    cleo = club.at(dk(2026, 2, 1, 10)).join()
    pay(club, cleo)
    response = club.at(dk(2026, 2, 10, 12)).post(f"/api/v1/customers/{cleo}/membership/cancel")
    assert response.status_code == 201, response.text
    assert response.json()["state"] == "active"
    assert response.json()["cancel_at_period_end"] is True
    assert response.json()["benefits_until"] == "2026-03-01T09:00:00Z"
    resumed = club.at(dk(2026, 2, 20, 12)).post(f"/api/v1/customers/{cleo}/membership/resume")
    assert resumed.status_code == 201, resumed.text
    assert resumed.json()["cancel_at_period_end"] is False
    assert membership(club.at(dk(2026, 3, 2, 12)), cleo)["state"] == "grace"

    club.at(dk(2026, 2, 20, 13)).buy(cleo, 10000)
    mug = club.post(f"/api/v1/customers/{cleo}/vouchers", {"reward": "club-mug"})
    assert mug.status_code == 201, mug.text
    dorte = club.join()
    club.buy(dorte, 10000)
    refused = club.post(f"/api/v1/customers/{dorte}/vouchers", {"reward": "club-mug"})
    assert refused.status_code == 409
    assert error_of(refused)["code"] == "plan_required"
    ledger_ok(db)


def test_example_e1_two_reviews_a_week(club: Till, db: Database) -> None:
    dan = club.at(dk(2026, 2, 20, 9)).join()
    first = act(club.at(dk(2026, 3, 2, 12)), dan, "review", reference="review-1")
    assert first.status_code == 201, first.text
    assert first.json()["transaction"]["points"] == 20
    second = act(club.at(dk(2026, 3, 4, 12)), dan, "review")
    assert second.json()["balance"] == 90
    third = act(club.at(dk(2026, 3, 6, 12)), dan, "review")
    assert third.status_code == 409
    assert error_of(third) == {
        "code": "action_cap_reached",
        "message": "the member has had this action 2 times this week",
        "field": "type",
    }
    assert club.balance(dan)["points"] == 90
    next_week = act(club.at(dk(2026, 3, 9, 12)), dan, "review")
    assert next_week.status_code == 201
    assert next_week.json()["balance"] == 110
    ledger_ok(db)


def test_example_e2_five_visits_in_march(club: Till, db: Database) -> None:
    eva = club.at(dk(2026, 2, 20, 9)).join()
    answers = [club.at(dk(2026, 3, day, 12)).buy(eva, 3000) for day in (2, 4, 10, 12, 17)]
    assert [a["transaction"]["points"] for a in answers] == [30] * 5
    assert [a["earning"].get("challenges_completed") for a in answers] == [None] * 4 + [
        ["march-visits"]
    ]
    assert answers[-1]["balance"] == 300
    sixth = club.at(dk(2026, 3, 19, 12)).buy(eva, 3000)
    assert "challenges_completed" not in sixth["earning"]
    assert club.balance(eva)["points"] == 330
    progress = club.get(f"/api/v1/customers/{eva}/challenges").json()["items"]
    visits = next(item for item in progress if item["code"] == "march-visits")
    assert (visits["progress"], visits["target"]) == (5, 5)
    assert visits["completed_at"] == "2026-03-17T11:00:00Z"
    assert len(events_of(db, "challenge.completed")) == 1
    ledger_ok(db)
