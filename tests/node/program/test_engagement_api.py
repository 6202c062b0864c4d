"""Actions and challenges through the API: retries earn once, refusals write nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from node.db import Database
from tests.node.program.cafe import APPLIED_AT, Till, dk, error_of
from tests.node.program.club import act, club_program, events_of, ledger_ok


@pytest.fixture
def club(till: Till) -> Till:
    till.at(APPLIED_AT).apply(club_program(), comment="café and club")
    return till


def test_a_retried_action_earns_once(club: Till, db: Database) -> None:
    ann = club.at(dk(2026, 3, 2, 10)).join()
    first = act(club, ann, "tasting", key="tasting-1")
    again = act(club, ann, "tasting", key="tasting-1")
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert club.balance(ann)["points"] == 100
    ledger_ok(db)


def test_an_unknown_action_type_is_refused(club: Till) -> None:
    bo = club.at(dk(2026, 3, 2, 10)).join()
    response = act(club, bo, "selfie")
    assert response.status_code == 422
    assert error_of(response)["code"] == "action_unknown"
    future = act(club, bo, "review", occurred_at="2026-03-03T10:00:00Z")
    assert (future.status_code, error_of(future)["field"]) == (422, "occurred_at")
    assert club.balance(bo)["points"] == 50


def test_three_tastings_complete_a_challenge_once(club: Till, db: Database) -> None:
    cleo = club.at(dk(2026, 3, 2, 10)).join()
    answers = [act(club.at(dk(2026, 3, day, 20)), cleo, "tasting").json() for day in (3, 10, 17)]
    assert [a["challenges_completed"] for a in answers] == [[], [], ["three-tastings"]]
    assert answers[-1]["balance"] == 50 + 3 * 50 + 150
    act(club.at(dk(2026, 3, 24, 20)), cleo, "tasting")
    assert club.balance(cleo)["points"] == 50 + 4 * 50 + 150
    assert [e["challenge"] for e in events_of(db, "challenge.completed")] == ["three-tastings"]
    token = club.post(f"/api/v1/customers/{cleo}/tokens").json()["token"]
    mine = club.client.get(
        "/api/v1/me/challenges", headers={"Authorization": f"Bearer {token}"}
    ).json()
    tastings = next(item for item in mine["items"] if item["code"] == "three-tastings")
    assert tastings["progress"] == 3 and tastings["completed_at"] is not None
    ledger_ok(db)


def test_distinct_categories_count_once_each(till: Till, db: Database) -> None:
    program = club_program(
        **{
            'goal = "visits"\ntarget = 5': 'goal = "categories"\ntarget = 3',
        }
    )
    till.at(APPLIED_AT).apply(program)
    dorte = till.at(dk(2026, 3, 2, 10)).join()
    first = till.buy(dorte, lines={"coffee": 3000, "pastry": 3000})
    assert "challenges_completed" not in first["earning"]
    again = till.buy(dorte, lines={"coffee": 3000, "pastry": 3000})
    assert "challenges_completed" not in again["earning"]
    third = till.buy(dorte, lines={"beans": 12000})
    assert third["earning"]["challenges_completed"] == ["march-visits"]
    ledger_ok(db)


def test_a_purchase_for_an_unknown_member_counts_for_no_challenge(club: Till, db: Database) -> None:
    # The purchase's steps join the member's standing read, before the account
    # is checked: a refused purchase must leave no progress behind.
    unknown = club.at(dk(2026, 3, 2, 10)).post(
        "/api/v1/customers/cus_0123456789abcdef0123456789abcdef/purchases", {"amount": 5000}
    )
    assert unknown.status_code == 404 and error_of(unknown)["field"] == "customer_id"
    with db.read() as session:
        assert session.execute(text("SELECT count(*) FROM challenge_progress")).one()[0] == 0
    dan = club.join()
    club.buy(dan, 5000)
    with db.read() as session:
        assert session.execute(text("SELECT count(*) FROM challenge_progress")).one()[0] > 0
    ledger_ok(db)
