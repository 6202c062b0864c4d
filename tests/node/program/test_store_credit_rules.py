"""Cashback as store credit: money in øre, beside the points, never mixed with them."""

from __future__ import annotations

from typing import Any

from node.db import Database
from node.services.verification import verify_ledger
from tests.node.program.cafe import Till, cafe_program, dk, error_of


def test_cashback_rounds_down_to_whole_ore_and_ignores_tiers_and_campaigns(
    cafe: Till, db: Database
) -> None:
    frida = cafe.at(dk(2026, 2, 20)).join()
    first = cafe.buy(frida, 400000)
    assert first["earning"]["cashback"] == 8000
    weekend = cafe.at(dk(2026, 3, 7, 11)).buy(frida, 12345)  # Gold, members week
    assert weekend["transaction"]["points"] == 401  # 123.45 x 325 % = 401.2
    assert weekend["earning"]["cashback"] == 246  # 2 % of 123.45 kr is 2.469 kr
    assert cafe.credit(frida)["balance"] == 8246
    assert verify_ledger(db).ok


def test_cashback_is_paid_when_the_purchase_earns_no_points(till: Till) -> None:
    program: dict[str, Any] = cafe_program().model_dump(mode="json")
    program["earn"]["minimum_purchase"] = 20000
    till.at(dk(2026, 2, 1)).apply(program)
    ann = till.join()
    bought = till.buy(ann, 15000)
    assert (bought["transaction"]["points"], bought["earning"]["cashback"]) == (0, 300)
    assert till.credit(ann)["balance"] == 300


def test_store_credit_that_does_not_cover_the_bill_is_refused(cafe: Till, db: Database) -> None:
    jonas = cafe.at(dk(2026, 2, 20)).join()
    path = f"/api/v1/customers/{jonas}/store-credit/spend"
    never = cafe.post(path, {"amount": 100})
    assert never.status_code == 409
    assert (error_of(never)["code"], error_of(never)["field"]) == ("insufficient_credit", "amount")
    cafe.buy(jonas, 25000)
    short = cafe.post(path, {"amount": 501})
    assert short.status_code == 409 and error_of(short)["code"] == "insufficient_credit"
    euros = cafe.post(path, {"amount": 100, "currency": "EUR"})
    assert euros.status_code == 422 and error_of(euros)["field"] == "currency"
    assert cafe.credit(jonas)["balance"] == 500
    assert cafe.spend_credit(jonas, 500)["balance"] == 0
    assert cafe.balance(jonas)["points"] == 300  # points are untouched
    assert verify_ledger(db).ok


def test_store_credit_does_not_expire_with_the_points(cafe: Till) -> None:
    jonas = cafe.at(dk(2026, 2, 20)).join()
    cafe.buy(jonas, 25000)
    cafe.at(dk(2028, 2, 20))
    assert cafe.balance(jonas)["points"] == 0
    assert cafe.credit(jonas)["balance"] == 500


def test_a_member_reads_their_own_store_credit(cafe: Till) -> None:
    jonas = cafe.at(dk(2026, 2, 20)).join()
    cafe.buy(jonas, 25000)
    token = cafe.post(f"/api/v1/customers/{jonas}/tokens").json()["token"]
    mine = cafe.client.get("/api/v1/me/store-credit", headers={"Authorization": f"Bearer {token}"})
    assert mine.status_code == 200
    assert mine.json() == {"customer_id": jonas, "currency": "DKK", "balance": 500, "debt": 0}
