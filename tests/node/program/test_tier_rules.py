"""Tiers beyond the worked examples: refunds, grace 0, points basis, events, the job."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import select

from node.db import Database
from node.services.tiers import ReviewReport, review_tiers
from node.services.verification import verify_ledger
from node.settings import Settings
from node.store import tiers as tier_store
from node.store.program_models import WebhookEvent
from tests.node.program.cafe import Till, cafe_program, dk


def _program(**changes: Any) -> dict[str, Any]:
    program = cafe_program().model_dump(mode="json")
    program["tiers"].update(changes)
    return program


def _review(till: Till, db: Database, settings: Settings, customer: str) -> ReviewReport:
    review_at = datetime.fromisoformat(till.tier(customer)["review_at"])
    till.at(review_at)
    return review_tiers(db, settings, now=review_at)


def _tier_events(db: Database) -> list[dict[str, Any]]:
    with db.read() as session:
        rows = session.exec(
            select(WebhookEvent)
            .where(WebhookEvent.type == "tier.changed")
            .order_by(WebhookEvent.id)  # type: ignore[arg-type]
        ).all()
    return [json.loads(row.payload) for row in rows]


def test_up_to_the_highest_tier_reached_in_one_step(cafe: Till, db: Database) -> None:
    ole = cafe.at(dk(2026, 2, 20)).join()
    bought = cafe.buy(ole, 1000000)
    assert (bought["earning"]["tier"], bought["earning"]["new_tier"]) == ("bronze", "platinum")
    assert bought["transaction"]["points"] == 10000
    tier = cafe.tier(ole)
    assert tier["tier"]["benefits"] == ["free-refill", "barista-class"]
    assert tier["next_tier"] is None and tier["to_next_tier"] is None
    assert verify_ledger(db).ok


def test_a_refund_lowers_the_tier_at_the_next_review_not_at_once(
    cafe: Till, db: Database, settings: Settings
) -> None:
    eva = cafe.at(dk(2026, 2, 10)).join()
    bought = cafe.buy(eva, 420000)
    cafe.at(dk(2026, 2, 20)).refund(eva, bought["transaction"]["id"], 100000)
    tier = cafe.tier(eva)
    assert (tier["tier"]["code"], tier["qualifying_value"]) == ("gold", 320000)
    assert _review(cafe, db, settings, eva) == ReviewReport(1, 0, 0, 1)
    assert _review(cafe, db, settings, eva) == ReviewReport(1, 0, 1, 0)
    tier = cafe.tier(eva)
    assert tier["tier"]["code"] == "silver"
    assert tier["history"][0]["reason"] == "review"
    assert tier["history"][0]["qualifying_value"] == 320000
    assert _tier_events(db) == [
        {
            "basis": "spend",
            "customer_id": eva,
            "from_tier": "bronze",
            "qualifying_value": 420000,
            "reason": "qualified",
            "to_tier": "gold",
        },
        {
            "basis": "spend",
            "customer_id": eva,
            "from_tier": "gold",
            "qualifying_value": 320000,
            "reason": "review",
            "to_tier": "silver",
        },
    ]
    assert verify_ledger(db).ok


def test_without_grace_a_member_moves_down_at_the_first_review(
    till: Till, db: Database, settings: Settings
) -> None:
    till.at(dk(2026, 2, 1)).apply(_program(grace_days=0, window_days=20))
    eva = till.at(dk(2026, 2, 10)).join()
    assert till.buy(eva, 160000)["earning"]["new_tier"] == "silver"
    assert _review(till, db, settings, eva) == ReviewReport(1, 0, 1, 0)
    assert till.tier(eva)["tier"]["code"] == "bronze"
    assert verify_ledger(db).ok


def test_reviewing_again_at_the_same_time_changes_nothing(
    cafe: Till, db: Database, settings: Settings
) -> None:
    erik = cafe.at(dk(2026, 2, 10)).join()
    cafe.buy(erik, 150000)
    review_at = datetime.fromisoformat(cafe.tier(erik)["review_at"])
    assert review_tiers(db, settings, now=review_at) == ReviewReport(1, 0, 0, 0)
    assert review_tiers(db, settings, now=review_at) == ReviewReport(0, 0, 0, 0)
    assert review_tiers(db, settings, now=dk(2026, 2, 11)) == ReviewReport(0, 0, 0, 0)


def test_tiers_by_points_count_purchase_points_not_bonuses(till: Till, db: Database) -> None:
    program = _program(basis="points")
    for level, threshold in zip(program["tiers"]["levels"], (0, 1000, 3000, 8000), strict=True):
        level["threshold"] = threshold
    till.at(dk(2026, 2, 1)).apply(program)
    pia = till.at(dk(2026, 2, 10)).join()
    assert till.tier(pia)["qualifying_value"] == 0  # the 50 enrolment points do not count
    first = till.buy(pia, lines={"beans": 45000})
    assert (first["transaction"]["points"], first["earning"]["new_tier"]) == (900, None)
    second = till.buy(pia, 10000)
    assert (second["transaction"]["points"], second["earning"]["new_tier"]) == (100, "silver")
    tier = till.tier(pia)
    assert (tier["basis"], tier["qualifying_value"], tier["to_next_tier"]) == ("points", 1000, 2000)
    assert verify_ledger(db).ok


def test_a_member_reads_their_own_tier(cafe: Till) -> None:
    ib = cafe.at(dk(2026, 2, 20)).join()
    cafe.buy(ib, 150000)
    token = cafe.post(f"/api/v1/customers/{ib}/tokens").json()["token"]
    mine = cafe.client.get("/api/v1/me/tier", headers={"Authorization": f"Bearer {token}"})
    assert mine.status_code == 200
    assert mine.json() == cafe.tier(ib)
    assert mine.json()["tier"]["code"] == "silver"


def test_a_late_purchase_earns_at_the_tier_held_when_paying(cafe: Till, db: Database) -> None:
    ib = cafe.at(dk(2026, 2, 10)).join()
    cafe.buy(ib, 145000)
    assert cafe.at(dk(2026, 2, 20)).buy(ib, 8000)["earning"]["new_tier"] == "silver"
    late = cafe.at(dk(2026, 2, 21)).buy(ib, 3000, occurred_at=dk(2026, 2, 15))
    assert late["earning"]["tier"] == "bronze"
    assert late["transaction"]["points"] == 30


def test_reviews_end_after_the_tiers_are_removed(
    cafe: Till, db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    erik = cafe.at(dk(2026, 2, 10)).join()
    cafe.buy(erik, 150000)
    review_at = datetime.fromisoformat(cafe.tier(erik)["review_at"])
    no_tiers = cafe_program().model_dump(mode="json")
    no_tiers["tiers"]["levels"] = []
    for campaign in no_tiers["campaigns"]:
        campaign["tiers"] = []
    for reward in no_tiers["rewards"]:
        reward["tiers"] = []
    cafe.at(dk(2026, 3, 1)).apply(no_tiers)
    monkeypatch.setattr(tier_store, "due_reviews", _at_most(20, tier_store.due_reviews))
    review_tiers(db, settings, now=review_at)
    assert review_tiers(db, settings, now=review_at).reviewed == 0


def _at_most(calls: int, query: Callable[..., Any]) -> Callable[..., Any]:
    """Stop a loop that would never end: fail after ``calls`` queries."""
    made = 0

    def counted(**kwargs: Any) -> Any:
        nonlocal made
        made += 1
        if made > calls:
            raise RuntimeError("review_tiers keeps finding the same members due")
        return query(**kwargs)

    return counted


def test_a_late_purchase_from_before_the_window_does_not_count_for_an_upgrade(
    till: Till, db: Database
) -> None:
    till.at(dk(2026, 1, 1)).apply(_program(window_days=20))
    ib = till.join()
    assert till.at(dk(2026, 2, 20)).buy(ib, 140000)["earning"]["new_tier"] is None
    late = till.at(dk(2026, 2, 21)).buy(ib, 20000, occurred_at=dk(2026, 1, 25))
    assert late["earning"]["new_tier"] is None
    assert till.tier(ib)["qualifying_value"] == 140000
    assert till.buy(ib, 10000)["earning"]["new_tier"] == "silver"
    assert verify_ledger(db).ok


def test_an_earn_under_a_program_expires_due_lots_first(cafe: Till, db: Database) -> None:
    # Under a program the earn reads the account with the member's standing
    # (node.store.standing): lots past expiry must still go before the credit.
    jens = cafe.at(dk(2026, 2, 20, 12)).join()  # 50 welcome points, expire 2027-02-20
    cafe.buy(jens, 10_000)
    held = cafe.balance(jens)["points"]
    assert held > 50
    bought = cafe.at(dk(2027, 3, 1, 12)).buy(jens, 5_000)
    assert bought["balance"] == bought["earning"]["points"] > 0
    with db.read() as session:
        kinds = [
            row[0]
            for row in session.execute(text("SELECT kind FROM ledger_transaction ORDER BY id"))
        ]
        expired = session.execute(
            text("SELECT -sum(points) FROM ledger_transaction WHERE kind = 'expire'")
        ).one()[0]
    assert kinds[-2:] == ["expire", "earn"] and expired == held
    assert verify_ledger(db).ok
