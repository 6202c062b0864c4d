"""Time-based offer rules (lapsed, tier) issued by the program job, and a free reward."""

from __future__ import annotations

import pytest

from node.db import Database
from node.secrets import NodeSecrets
from node.services.offers import issue_scheduled_offers
from node.settings import Settings
from tests.node.program.cafe import APPLIED_AT, Till, dk
from tests.node.program.club import ledger_ok
from tests.node.program.offers_helpers import join, offers_of, offers_program, use


@pytest.fixture
def shop(till: Till) -> Till:
    till.at(APPLIED_AT).apply(offers_program(), comment="offers")
    return till


def test_lapsed_member_gets_a_welcome_back_code_once(
    shop: Till, db: Database, settings: Settings, node_secrets: NodeSecrets
) -> None:
    pia = join(shop.at(dk(2026, 2, 2, 9)))
    quiet = join(shop, offers=False)
    for member in (pia, quiet):
        shop.at(dk(2026, 2, 2, 10)).buy(member, 3000)
    assert issue_scheduled_offers(db, settings, node_secrets, now=dk(2026, 3, 30)).issued == 0
    report = issue_scheduled_offers(db, settings, node_secrets, now=dk(2026, 4, 3))
    assert (report.customers, report.issued) == (1, 1)
    assert issue_scheduled_offers(db, settings, node_secrets, now=dk(2026, 4, 4)).issued == 0
    assert offers_of(shop, quiet) == []
    [offer] = offers_of(shop.at(dk(2026, 4, 4)), pia)
    assert offer["rule"] == "we-miss-you"
    assert offer["reward"]["discount_code"] == "WELCOME-BACK"
    assert offer["explanation"] == (
        "We have not seen you for 60 days, so you get the discount code WELCOME-BACK."
    )
    used = use(shop, pia, offer["id"], reference="order-77")
    assert used.status_code == 200, used.text
    assert used.json()["transaction"] is None
    assert used.json()["offer"]["reference"] == "order-77"
    ledger_ok(db)


def test_gold_member_gets_a_free_coffee_voucher(
    shop: Till, db: Database, settings: Settings, node_secrets: NodeSecrets
) -> None:
    gro = join(shop.at(dk(2026, 2, 20, 9)))
    shop.at(dk(2026, 2, 20, 10)).buy(gro, 400000)
    assert shop.tier(gro)["tier"]["code"] == "gold"
    issue_scheduled_offers(db, settings, node_secrets, now=dk(2026, 2, 21))
    [offer] = [o for o in offers_of(shop, gro) if o["rule"] == "gold-coffee"]
    assert offer["explanation"] == "You are in the gold tier, so you get free-coffee for free."
    before = shop.balance(gro)["points"]
    used = use(shop.at(dk(2026, 2, 22)), gro, offer["id"])
    assert used.status_code == 200, used.text
    assert used.json()["offer"]["voucher_code"]
    assert shop.balance(gro)["points"] == before
    vouchers = shop.get(f"/api/v1/customers/{gro}/vouchers").json()["items"]
    assert [v["reward"] for v in vouchers] == ["free-coffee"]
    # Once a year: the next run gives no second one.
    assert issue_scheduled_offers(db, settings, node_secrets, now=dk(2026, 3, 1)).issued == 0
    ledger_ok(db)


def test_offer_rules_are_validated_with_field_paths(shop: Till) -> None:
    program = offers_program().model_dump(mode="json")
    program["offers"][2]["condition"]["tier"] = "diamond"
    response = shop.client.put(
        "/api/v1/program",
        json={"program": program},
        headers={**shop.auth, "Idempotency-Key": "bad-offer"},
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "program.offers.2.condition.tier"
    program["offers"][2]["condition"]["tier"] = "gold"
    program["offers"][0]["reward"] = {"bonus_points": 10, "discount_code": "X"}
    response = shop.client.put(
        "/api/v1/program",
        json={"program": program},
        headers={**shop.auth, "Idempotency-Key": "bad-offer-2"},
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "program.offers.0.reward"
