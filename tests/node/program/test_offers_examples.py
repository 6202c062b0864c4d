"""The worked examples of docs/program.md, "Personalised offers", as tests."""

from __future__ import annotations

import pytest

from node.db import Database
from node.services import consent, erasure
from node.services import offers as offers_service
from tests.node.program.cafe import APPLIED_AT, Till, dk
from tests.node.program.club import events_of, ledger_ok
from tests.node.program.offers_helpers import (
    join,
    offers_of,
    offers_program,
    stored_offers,
    use,
    withdraw,
)

BEANS = {"beans": 12000}


@pytest.fixture
def shop(till: Till) -> Till:
    till.at(APPLIED_AT).apply(offers_program(), comment="offers")
    return till


def three_bags(shop: Till, customer: str) -> list[dict[str, object]]:
    return [
        shop.at(dk(2026, 3, day, 10)).buy(customer, lines=BEANS, order_ref=f"o-{customer}-{day}")
        for day in (2, 9, 16)
    ]


def test_example_o1_a_bean_regulars_offer_and_why(shop: Till, db: Database) -> None:
    jens = join(shop.at(dk(2026, 3, 1, 9)))
    first, second, third = three_bags(shop, jens)
    assert [a["earning"]["points"] for a in (first, second, third)] == [240, 240, 240]
    assert "offers_issued" not in second["earning"]
    [issued] = third["earning"]["offers_issued"]
    [offer] = offers_of(shop, jens)
    assert offer["id"] == issued
    assert offer["status"] == "pending"
    assert offer["explanation"] == (
        "You bought beans 3 times in the last 30 days, so you get 100 bonus points"
        " with your next purchase."
    )
    assert offer["facts"]["count"] == 3
    assert offer["facts"]["condition"] == {
        "kind": "category_count",
        "category": "beans",
        "times": 3,
        "within_days": 30,
    }
    assert offer["expires_at"] == dk(2026, 3, 30, 11).isoformat().replace("+00:00", "Z")
    token = shop.post(f"/api/v1/customers/{jens}/tokens").json()["token"]
    mine = shop.client.get("/api/v1/me/offers", headers={"Authorization": f"Bearer {token}"})
    assert mine.status_code == 200
    assert mine.json()["items"][0]["explanation"] == offer["explanation"]
    assert [e["offer"] for e in events_of(db, "offer.issued")] == [issued]

    shop.at(dk(2026, 3, 20, 10)).buy(jens, 3000, order_ref="coffee-20")
    used = use(shop, jens, issued, reference="coffee-20", key="use-1")
    assert used.status_code == 200, used.text
    assert used.json()["transaction"]["points"] == 100
    assert used.json()["offer"]["status"] == "used"
    assert shop.balance(jens)["points"] == 900
    again = use(shop, jens, issued, reference="coffee-20", key="use-1")
    assert again.json() == used.json()
    refused = use(shop, jens, issued, reference="coffee-20")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "offer_used"
    assert shop.balance(jens)["points"] == 900
    ledger_ok(db)


def test_an_expired_offer_is_refused(shop: Till) -> None:
    jens = join(shop.at(dk(2026, 3, 1, 9)))
    [offer] = three_bags(shop, jens)[2]["earning"]["offers_issued"]
    shop.at(dk(2026, 3, 31, 10))
    assert offers_of(shop, jens)[0]["status"] == "expired"
    refused = use(shop, jens, offer)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "offer_expired"


def test_example_o2_no_consent_no_offer_the_same_points(
    shop: Till, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    called: list[str] = []
    real = offers_service.rule_facts_txn

    def spy(**kwargs: object) -> object:
        called.append(str(kwargs["customer_id"]))
        return real(**kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(offers_service, "rule_facts_txn", spy)
    kirsten = join(shop.at(dk(2026, 3, 1, 9)), offers=False)
    answers = three_bags(shop, kirsten)
    assert sum(int(a["earning"]["points"]) for a in answers) == 720
    assert all("offers_issued" not in a["earning"] for a in answers)
    assert called == []
    assert stored_offers(db) == 0
    assert offers_of(shop, kirsten) == []
    # Profiling refused: the behavioural rule is not even evaluated either.
    nils = join(shop, profiling=False)
    three_bags(shop, nils)
    assert called == [] and stored_offers(db) == 0
    # And the spy does see a consenting member: it can fail.
    jens = join(shop)
    three_bags(shop, jens)
    assert jens in called and stored_offers(db) == 1


def test_example_o3_withdrawing_removes_the_pending_offer(shop: Till, db: Database) -> None:
    lars = join(shop.at(dk(2026, 3, 1, 9)))
    [offer] = three_bags(shop, lars)[2]["earning"]["offers_issued"]
    assert stored_offers(db, lars) == 1
    withdraw(shop.at(dk(2026, 3, 17, 10)), lars, "personalised_offers")
    assert stored_offers(db, lars) == 0
    assert offers_of(shop, lars) == []
    assert use(shop, lars, offer).status_code == 404


def test_withdrawing_profiling_or_restriction_removes_pending_offers(
    shop: Till, db: Database
) -> None:
    mia = join(shop.at(dk(2026, 3, 1, 9)))
    three_bags(shop, mia)
    withdraw(shop, mia, "profiling")
    assert stored_offers(db, mia) == 0
    ole = join(shop.at(dk(2026, 4, 1, 9)))
    for day in (2, 3, 4):
        shop.at(dk(2026, 4, day, 10)).buy(ole, lines=BEANS)
    assert stored_offers(db, ole) == 1
    with db.transaction() as session:
        consent.set_restriction_txn(
            session=session,
            customer_id=ole,
            restricted=True,
            reason="accuracy_contested",
            actor="test",
            now=dk(2026, 4, 4, 11),
        )
    assert stored_offers(db, ole) == 0
    shop.at(dk(2026, 4, 5, 10)).buy(ole, lines=BEANS)
    assert stored_offers(db, ole) == 0


def test_erasure_removes_the_members_offers(shop: Till, db: Database) -> None:
    lars = join(shop.at(dk(2026, 3, 1, 9)))
    three_bags(shop, lars)
    assert stored_offers(db, lars) == 1
    with db.transaction() as session:
        shredded = erasure.shred_personal_data_txn(
            session=session, customer_id=lars, now=dk(2026, 3, 17, 10)
        )
    assert shredded.deleted["customer_offer"] == 1
    assert stored_offers(db, lars) == 0
