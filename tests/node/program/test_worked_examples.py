"""Every worked example of docs/program.md, with the exact numbers the doc states.

One test per "Example N: ..." heading, named after it (a test in
test_program_doc.py checks that none is missing). Each runs the example
through the HTTP API of a node with the café program of the doc, or through
the service the node's jobs call, and ends with the ledger verified.
"""

from __future__ import annotations

from datetime import datetime

from node.db import Database
from node.secrets import NodeSecrets
from node.services.bonuses import BirthdayReport, award_birthday_bonuses
from node.services.ledger import ExpiryReport, expire_due_points
from node.services.tiers import ReviewReport, review_tiers
from node.services.verification import verify_ledger
from node.settings import Settings
from tests.node.program.cafe import Till, cafe_program, dk, error_of


def ledger_ok(db: Database) -> None:
    report = verify_ledger(db)
    assert report.ok, report.violations


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


# Earning points and the minimum purchase


def test_example_1_points_for_a_lunch_rounded_down(cafe: Till, db: Database) -> None:
    ann = cafe.at(dk(2026, 2, 20, 9)).join()
    bought = cafe.at(dk(2026, 2, 20, 12)).buy(ann, 5790)
    assert bought["transaction"]["points"] == 57
    assert bought["earning"] == {
        "program_version": 1,
        "base_points": 57,
        "points": 57,
        "tier": "bronze",
        "tier_percent": 100,
        "campaigns": [],
        "cashback": 0,
        "new_tier": None,
    }
    assert bought["balance"] == 107
    ledger_ok(db)


def test_example_2_an_espresso_below_the_minimum_purchase(cafe: Till, db: Database) -> None:
    ann = cafe.at(dk(2026, 2, 20, 9)).join()
    cafe.at(dk(2026, 2, 20, 12)).buy(ann, 5790)
    espresso = cafe.at(dk(2026, 2, 20, 15)).buy(ann, 1950)
    assert espresso["transaction"]["points"] == 0
    assert espresso["earning"]["base_points"] == 0
    assert espresso["balance"] == 107
    assert cafe.balance(ann)["points"] == 107
    assert cafe.tier(ann)["qualifying_value"] == 7740
    ledger_ok(db)


# Category multipliers


def test_example_3_a_basket_with_beans_and_a_bun(cafe: Till, db: Database) -> None:
    bo = cafe.at(dk(2026, 2, 20, 9)).join()
    bought = cafe.at(dk(2026, 2, 20, 12)).buy(
        bo, lines={"coffee": 8000, "beans": 12000, "pastry": 3500}
    )
    assert bought["purchase"]["amount"] == 23500
    assert bought["transaction"]["points"] == 372
    assert bought["earning"]["base_points"] == 372
    assert bought["earning"]["cashback"] == 470
    assert cafe.credit(bo)["balance"] == 470
    ledger_ok(db)


# Campaigns


def test_example_4_double_points_weekend(cafe: Till, db: Database) -> None:
    cleo = cafe.at(dk(2026, 2, 20, 9)).join()
    bought = cafe.at(dk(2026, 3, 7, 11)).buy(cleo, 10000)
    assert bought["transaction"]["points"] == 200
    assert bought["earning"]["base_points"] == 100
    assert bought["earning"]["tier"] == "bronze"
    assert bought["earning"]["campaigns"] == ["double-weekend"]
    assert bought["earning"]["cashback"] == 200
    ledger_ok(db)


def test_example_5_cake_of_the_month(cafe: Till, db: Database) -> None:
    dorte = cafe.at(dk(2026, 2, 20, 9)).join()
    cake = cafe.at(dk(2026, 3, 12, 10)).buy(dorte, lines={"coffee": 2500, "pastry": 3500})
    assert cake["transaction"]["points"] == 87
    assert cake["earning"]["base_points"] == 77
    assert cake["earning"]["campaigns"] == ["cake-month"]
    biscuit = cafe.at(dk(2026, 3, 12, 11)).buy(dorte, lines={"coffee": 2500, "pastry": 1500})
    assert biscuit["transaction"]["points"] == 47
    assert biscuit["earning"]["campaigns"] == []
    ledger_ok(db)


# The stacking rule


def test_example_6_silver_member_in_a_double_points_weekend(cafe: Till, db: Database) -> None:
    erik = cafe.at(dk(2026, 2, 20, 9)).join()
    assert cafe.buy(erik, 150000)["earning"]["new_tier"] == "silver"
    bought = cafe.at(dk(2026, 3, 7, 11)).buy(erik, 10000)
    assert bought["transaction"]["points"] == 210
    assert bought["earning"]["tier"] == "silver"
    assert bought["earning"]["tier_percent"] == 110
    assert bought["earning"]["campaigns"] == ["double-weekend"]
    ledger_ok(db)


def test_example_7_gold_member_in_a_double_points_weekend(cafe: Till, db: Database) -> None:
    frida = cafe.at(dk(2026, 2, 20, 9)).join()
    assert cafe.buy(frida, 400000)["earning"]["new_tier"] == "gold"
    bought = cafe.at(dk(2026, 3, 7, 11)).buy(frida, 10000)
    assert bought["transaction"]["points"] == 325
    assert bought["earning"]["tier_percent"] == 125
    assert bought["earning"]["campaigns"] == ["members-week"]
    ledger_ok(db)


# Member-only campaigns


def test_example_8_members_week_for_gold_and_bronze(cafe: Till, db: Database) -> None:
    gorm = cafe.at(dk(2026, 2, 20, 9)).join()
    cafe.buy(gorm, 400000)
    hanne = cafe.join()
    cafe.at(dk(2026, 3, 4, 10))
    gold = cafe.buy(gorm, lines={"beans": 12000})
    bronze = cafe.buy(hanne, lines={"beans": 12000})
    assert gold["earning"]["base_points"] == bronze["earning"]["base_points"] == 240
    assert (gold["earning"]["tier"], gold["transaction"]["points"]) == ("gold", 780)
    assert gold["earning"]["campaigns"] == ["members-week"]
    assert (bronze["earning"]["tier"], bronze["transaction"]["points"]) == ("bronze", 240)
    assert bronze["earning"]["campaigns"] == []
    ledger_ok(db)


# Tiers


def test_example_9_up_to_silver_at_once(cafe: Till, db: Database) -> None:
    ib = cafe.at(dk(2026, 2, 10, 12)).join()
    cafe.buy(ib, 145000)
    bought = cafe.at(dk(2026, 2, 20, 12)).buy(ib, 8000)
    assert bought["earning"]["tier"] == "bronze"
    assert bought["earning"]["new_tier"] == "silver"
    assert bought["transaction"]["points"] == 80
    tier = cafe.tier(ib)
    assert tier["tier"]["code"] == "silver"
    assert tier["qualifying_value"] == 153000
    assert tier["next_tier"]["code"] == "gold"
    assert tier["to_next_tier"] == 247000
    assert at(tier["since"]) == dk(2026, 2, 20, 12)
    assert at(tier["review_at"]) == dk(2026, 3, 22, 12)
    assert tier["grace_until"] is None
    following = cafe.at(dk(2026, 2, 23, 12)).buy(ib, 10000)
    assert following["earning"]["tier"] == "silver"
    assert following["transaction"]["points"] == 110
    ledger_ok(db)


def _gold_then_twelve_reviews(cafe: Till, db: Database, settings: Settings) -> str:
    """Eva: Gold on 10 February 2026, then kept at each 30-day review until February 2027."""
    eva = cafe.at(dk(2026, 2, 10, 12)).join()
    assert cafe.buy(eva, 420000)["earning"]["new_tier"] == "gold"
    for _ in range(12):
        review_at = at(cafe.tier(eva)["review_at"])
        report = review_tiers(db, settings, now=review_at)
        assert report == ReviewReport(reviewed=1, up=0, down=0, grace=0)
    assert at(cafe.tier(eva)["review_at"]).date() == dk(2027, 3, 7).date()
    return eva


def _review(cafe: Till, db: Database, settings: Settings, customer: str) -> ReviewReport:
    review_at = at(cafe.tier(customer)["review_at"])
    cafe.at(review_at)
    return review_tiers(db, settings, now=review_at)


def test_example_10_down_from_gold_after_the_grace_period(
    cafe: Till, db: Database, settings: Settings
) -> None:
    eva = _gold_then_twelve_reviews(cafe, db, settings)
    assert _review(cafe, db, settings, eva) == ReviewReport(1, 0, 0, 1)
    tier = cafe.tier(eva)
    assert tier["tier"]["code"] == "gold"
    assert tier["qualifying_value"] == 0
    assert at(tier["grace_until"]).date() == dk(2027, 4, 6).date()
    assert _review(cafe, db, settings, eva) == ReviewReport(1, 0, 1, 0)
    tier = cafe.tier(eva)
    assert tier["tier"]["code"] == "bronze"
    assert tier["grace_until"] is None
    assert [
        (h["from_tier"], h["to_tier"], h["reason"], h["qualifying_value"]) for h in tier["history"]
    ] == [("gold", "bronze", "review", 0), ("bronze", "gold", "qualified", 420000)]
    assert at(tier["history"][0]["at"]).date() == dk(2027, 4, 6).date()
    ledger_ok(db)


def test_example_11_grace_period_saves_gold(cafe: Till, db: Database, settings: Settings) -> None:
    eva = _gold_then_twelve_reviews(cafe, db, settings)
    assert _review(cafe, db, settings, eva) == ReviewReport(1, 0, 0, 1)
    catering = cafe.at(dk(2027, 3, 19, 12)).buy(eva, 410000)
    assert catering["earning"]["tier"] == "gold"
    assert catering["transaction"]["points"] == 5125
    assert _review(cafe, db, settings, eva) == ReviewReport(1, 0, 0, 0)
    tier = cafe.tier(eva)
    assert tier["tier"]["code"] == "gold"
    assert tier["grace_until"] is None
    assert at(tier["review_at"]).date() == dk(2027, 5, 6).date()
    assert len(tier["history"]) == 1
    ledger_ok(db)


# Bonuses


def test_example_12_enrolment_bonus(cafe: Till, db: Database) -> None:
    jens = cafe.at(dk(2026, 2, 20, 12)).join()
    assert cafe.balance(jens)["points"] == 50
    history = cafe.get(f"/api/v1/customers/{jens}/transactions").json()["items"]
    assert [(i["kind"], i["points"], i["reference"]) for i in history] == [
        ("bonus", 50, "enrolment")
    ]
    ledger_ok(db)


def test_example_13_birthday_bonus_once_a_year(
    cafe: Till, db: Database, settings: Settings, node_secrets: NodeSecrets
) -> None:
    gus = cafe.at(dk(2026, 2, 10, 12)).join(birthday="1990-03-14")
    assert cafe.balance(gus)["points"] == 50
    first = dk(2026, 3, 1, 4)
    assert award_birthday_bonuses(db, settings, node_secrets, now=first) == BirthdayReport(1, 100)
    assert cafe.at(first).balance(gus)["points"] == 150
    again = dk(2026, 3, 2, 4)
    assert award_birthday_bonuses(db, settings, node_secrets, now=again) == BirthdayReport(0, 0)
    assert cafe.at(again).balance(gus)["points"] == 150
    next_year = dk(2027, 3, 1, 4)
    assert award_birthday_bonuses(db, settings, node_secrets, now=next_year) == BirthdayReport(
        1, 100
    )
    ledger_ok(db)


def test_example_14_referral_bonus_after_the_first_purchase(cafe: Till, db: Database) -> None:
    cafe.at(dk(2026, 2, 16, 12))
    hans = cafe.join()
    ida = cafe.join(referred_by=hans)
    assert cafe.balance(ida)["points"] == 50 and cafe.balance(hans)["points"] == 50
    first = cafe.at(dk(2026, 2, 20, 12)).buy(ida, 6000)
    assert first["transaction"]["points"] == 60
    assert first["balance"] == 160
    assert cafe.balance(hans)["points"] == 150
    second = cafe.buy(ida, 6000)
    assert second["transaction"]["points"] == 60
    assert second["balance"] == 220
    assert cafe.balance(hans)["points"] == 150
    ledger_ok(db)


# Cashback


def test_example_15_cashback_and_paying_with_store_credit(cafe: Till, db: Database) -> None:
    jonas = cafe.at(dk(2026, 2, 20, 12)).join()
    big = cafe.buy(jonas, 25000)
    assert big["transaction"]["points"] == 250
    assert big["earning"]["cashback"] == 500
    small = cafe.buy(jonas, 9900)
    assert small["transaction"]["points"] == 99
    assert small["earning"]["cashback"] == 0
    assert cafe.credit(jonas)["balance"] == 500
    paid = cafe.spend_credit(jonas, 300)
    assert paid["transaction"]["amount"] == -300
    assert paid["balance"] == 200
    assert cafe.credit(jonas) == {
        "customer_id": jonas,
        "currency": "DKK",
        "balance": 200,
        "debt": 0,
    }
    ledger_ok(db)


# Refunds and debt


def test_example_16_partial_refunds_add_up(cafe: Till, db: Database) -> None:
    karen = cafe.at(dk(2026, 2, 20, 12)).join()
    bought = cafe.buy(karen, lines={"pastry": 10000})
    assert bought["transaction"]["points"] == 150
    assert bought["earning"]["cashback"] == 200
    purchase = bought["transaction"]["id"]
    refunds = [cafe.refund(karen, purchase, amount) for amount in (3333, 3333, 3334)]
    assert [r["refund"]["points"] for r in refunds] == [49, 50, 51]
    assert [r["refund"]["cashback"] for r in refunds] == [66, 67, 67]
    assert refunds[-1]["balance"] == 50 and refunds[-1]["debt"] == 0
    assert cafe.credit(karen)["balance"] == 0
    ledger_ok(db)


def test_example_17_refund_after_the_points_were_spent(cafe: Till, db: Database) -> None:
    lars = cafe.at(dk(2026, 2, 20, 12)).join()
    bought = cafe.buy(lars, 30000)
    assert (bought["transaction"]["points"], bought["earning"]["cashback"]) == (300, 600)
    assert bought["balance"] == 350
    assert cafe.at(dk(2026, 2, 21, 12)).redeem(lars, 330)["balance"] == 20
    refund = cafe.at(dk(2026, 2, 25, 12)).refund(lars, bought["transaction"]["id"], 30000)
    assert refund["refund"]["points"] == 300
    assert refund["refund"]["debt_points"] == 280
    assert refund["refund"]["cashback"] == 600
    assert refund["refund"]["debt_cashback"] == 0
    assert (refund["balance"], refund["debt"]) == (0, 280)
    assert cafe.credit(lars)["balance"] == 0
    later = cafe.at(dk(2026, 2, 27, 12)).buy(lars, 40000)
    assert later["transaction"]["points"] == 400
    assert later["balance"] == 120
    balance = cafe.balance(lars)
    assert (balance["points"], balance["debt"]) == (120, 0)
    assert cafe.credit(lars)["balance"] == 800
    ledger_ok(db)


# Expiry


def test_example_18_oldest_points_first_then_expiry(cafe: Till, db: Database) -> None:
    mia = cafe.at(dk(2026, 2, 10, 10)).join()
    cafe.buy(mia, 10000)
    cafe.at(dk(2026, 6, 1, 12)).buy(mia, 8000)
    assert cafe.at(dk(2026, 9, 1, 12)).redeem(mia, 120)["balance"] == 110
    january = cafe.at(dk(2027, 1, 15, 12)).balance(mia)
    assert (january["points"], january["expiring_points"]) == (110, 30)
    assert at(january["next_expiry"]) == dk(2027, 2, 10, 10)
    expiry = dk(2027, 2, 10, 10)
    after = cafe.at(expiry).balance(mia)
    assert (after["points"], after["expiring_points"]) == (80, 80)
    assert at(after["next_expiry"]) == dk(2027, 6, 1, 12)
    assert expire_due_points(db, now=expiry) == ExpiryReport(customers=1, points=30)
    history = cafe.get(f"/api/v1/customers/{mia}/transactions").json()["items"]
    assert (history[0]["kind"], history[0]["points"]) == ("expire", -30)
    assert cafe.balance(mia)["points"] == 80
    ledger_ok(db)


# Program versions


def test_example_19_offline_till_sends_a_purchase_after_a_program_change(
    cafe: Till, db: Database
) -> None:
    nora = cafe.at(dk(2026, 3, 20, 12)).join()
    program = cafe_program().model_dump(mode="json")
    program["earn"]["categories"]["beans"] = 300
    version_2 = cafe.at(dk(2026, 4, 1, 8)).apply(program, comment="beans triple")
    assert (version_2["version"], version_2["changed"]) == (2, ["earn.categories.beans"])
    cafe.at(dk(2026, 4, 2, 10))
    offline = cafe.buy(nora, lines={"beans": 12000}, occurred_at=dk(2026, 3, 31, 16))
    assert offline["transaction"]["points"] == 240
    assert offline["earning"]["program_version"] == 1
    online = cafe.buy(nora, lines={"beans": 12000})
    assert online["transaction"]["points"] == 360
    assert online["earning"]["program_version"] == 2
    refund = cafe.at(dk(2026, 4, 3, 10)).refund(nora, offline["transaction"]["id"], 12000)
    assert refund["refund"]["points"] == 240
    assert refund["balance"] == 50 + 360
    ledger_ok(db)


# Validation errors


def test_example_20_a_typo_in_the_program(cafe: Till) -> None:
    program = cafe_program().model_dump(mode="json")
    program["earn"]["point_per_unit"] = program["earn"].pop("points_per_unit") + 1
    response = cafe.client.put(
        "/api/v1/program",
        json={"program": program},
        headers={**cafe.auth, "Idempotency-Key": "typo"},
    )
    assert response.status_code == 422
    assert error_of(response) == {
        "code": "validation_failed",
        "message": "earn.point_per_unit: unknown field",
        "field": "program.earn.point_per_unit",
    }
    assert cafe.get("/api/v1/program").json()["version"] == 1


def test_example_21_tiers_out_of_order(cafe: Till) -> None:
    program = cafe_program().model_dump(mode="json")
    program["tiers"]["levels"][1]["threshold"] = 500000
    refused = cafe.client.post(
        "/api/v1/program/validate", json={"program": program}, headers=cafe.auth
    )
    assert refused.status_code == 422
    assert error_of(refused) == {
        "code": "validation_failed",
        "message": "tiers: tier thresholds must rise strictly, lowest first",
        "field": "program.tiers",
    }
    program["tiers"]["levels"][1]["threshold"] = 150000
    program["earn"]["categories"]["beans"] = 300
    checked = cafe.client.post(
        "/api/v1/program/validate", json={"program": program}, headers=cafe.auth
    )
    assert checked.status_code == 200
    assert checked.json() == {"valid": True, "changed": ["earn.categories.beans"]}
    assert cafe.get("/api/v1/program").json()["version"] == 1
