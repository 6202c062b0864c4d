"""Refunds: proportional, adding up exactly, never below zero, debt repaid first."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node.clock import ManualClock
from node.db import Database
from node.program.earning import Line
from node.secrets import NodeSecrets
from node.services import points, refunds
from node.services.bonuses import award_birthday_bonuses
from node.services.idempotency import run_idempotent
from node.services.program import current_program, update_program
from node.services.verification import verify_ledger
from node.settings import Settings
from tests.factories import make_customer
from tests.node.program.cafe import APPLIED_AT, Till, cafe_program, dk, error_of


def _split(amount: int, cuts: list[int]) -> list[int]:
    """``amount`` cut at the given points (any order, duplicates dropped) into parts."""
    edges = sorted({cut % amount for cut in cuts} - {0})
    bounds = [0, *edges, amount]
    return [b - a for a, b in zip(bounds, bounds[1:], strict=False)]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    lines=st.lists(
        st.tuples(st.sampled_from([None, "beans", "pastry", "merch"]), st.integers(1, 90_000)),
        min_size=1,
        max_size=3,
    ),
    cuts=st.lists(st.integers(1, 10**6), max_size=6),
)
def test_partial_refunds_add_up_to_what_the_purchase_earned(
    db: Database,
    settings: Settings,
    node_secrets: NodeSecrets,
    lines: list[tuple[str | None, int]],
    cuts: list[int],
) -> None:
    clock = ManualClock(dk(2026, 2, 20))
    if current_program(db, settings, now=APPLIED_AT).version == 0:
        update_program(
            db, settings, program=cafe_program(), actor="test", comment=None, now=APPLIED_AT
        )
    member = make_customer(db, node_secrets, clock)
    amount = sum(part for _, part in lines)
    bought = points.record_purchase(
        db,
        settings,
        customer_id=member,
        amount=amount,
        currency="DKK",
        order_ref=None,
        idempotency_key=str(uuid.uuid4()),
        now=clock.now(),
        lines=[Line(part, category) for category, part in lines],
    ).body
    earned, cashback = bought["transaction"]["points"], bought["earning"]["cashback"]
    refunded = taken = taken_cash = 0
    for part in _split(amount, cuts):
        refund = run_idempotent(
            db,
            refunds.refund_unit(
                customer_id=member,
                transaction_id=bought["transaction"]["id"],
                order_ref=None,
                amount=part,
                reference=None,
                idempotency_key=str(uuid.uuid4()),
                now=clock.now(),
            ),
        ).body["refund"]
        refunded += part
        taken += refund["points"]
        taken_cash += refund["cashback"]
        assert taken == earned * refunded // amount
        assert taken_cash == cashback * refunded // amount
    assert (taken, taken_cash) == (earned, cashback)
    assert verify_ledger(db).ok


def test_a_refund_by_order_ref(cafe: Till) -> None:
    ann = cafe.at(dk(2026, 2, 20)).join()
    cafe.buy(ann, 20000, order_ref="A-17")
    refund = cafe.post(
        f"/api/v1/customers/{ann}/refunds", {"order_ref": "A-17", "amount": 5000}
    ).json()
    assert (refund["refund"]["points"], refund["refund"]["cashback"]) == (50, 100)
    assert refund["balance"] == 50 + 200 - 50


def test_refunds_that_cannot_be_done_change_nothing(cafe: Till, db: Database) -> None:
    ann = cafe.at(dk(2026, 2, 20)).join()
    bought = cafe.buy(ann, 20000, order_ref="A-17")
    cafe.buy(ann, 3000, order_ref="A-18")
    cafe.buy(ann, 3000, order_ref="A-18")
    path = f"/api/v1/customers/{ann}/refunds"
    txn = bought["transaction"]["id"]
    cases: list[tuple[dict[str, Any], int, str, str]] = [
        ({"transaction_id": txn, "amount": 20001}, 409, "refund_exceeds_purchase", "amount"),
        ({"order_ref": "A-18", "amount": 100}, 409, "ambiguous_purchase", "order_ref"),
        ({"order_ref": "A-99", "amount": 100}, 404, "not_found", "order_ref"),
        ({"transaction_id": "txn_nope", "amount": 100}, 404, "not_found", "transaction_id"),
        ({"amount": 100}, 422, "validation_failed", "transaction_id"),
        (
            {"transaction_id": txn, "order_ref": "A-17", "amount": 100},
            422,
            "validation_failed",
            "transaction_id",
        ),
        ({"transaction_id": txn, "amount": 0}, 422, "validation_failed", "amount"),
    ]
    before = cafe.balance(ann)
    for body, status, code, field in cases:
        response = cafe.post(path, body)
        assert response.status_code == status, (body, response.text)
        assert (error_of(response)["code"], error_of(response)["field"]) == (code, field)
    assert cafe.balance(ann) == before
    cafe.refund(ann, txn, 15000)
    over = cafe.post(path, {"transaction_id": txn, "amount": 5001})
    assert over.status_code == 409 and error_of(over)["code"] == "refund_exceeds_purchase"
    assert cafe.refund(ann, txn, 5000)["refund"]["points"] == 50
    assert verify_ledger(db).ok


def test_a_retried_refund_takes_back_once(cafe: Till) -> None:
    ann = cafe.at(dk(2026, 2, 20)).join()
    bought = cafe.buy(ann, 20000)
    body = {"transaction_id": bought["transaction"]["id"], "amount": 20000}
    first = cafe.post(f"/api/v1/customers/{ann}/refunds", body, key="refund-1")
    again = cafe.post(f"/api/v1/customers/{ann}/refunds", body, key="refund-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert cafe.balance(ann)["points"] == 50


def test_debt_is_repaid_by_the_next_earnings_over_several_purchases(
    cafe: Till, db: Database
) -> None:
    lars = cafe.at(dk(2026, 2, 20)).join()
    bought = cafe.buy(lars, 30000)
    cafe.redeem(lars, 330)
    cafe.refund(lars, bought["transaction"]["id"], 30000)
    assert cafe.balance(lars)["debt"] == 280
    first = cafe.buy(lars, 10000)
    assert (first["transaction"]["points"], first["balance"]) == (100, 0)
    assert cafe.balance(lars)["debt"] == 180
    second = cafe.buy(lars, 20000)
    assert (second["transaction"]["points"], second["balance"]) == (200, 20)
    balance = cafe.balance(lars)
    assert (balance["points"], balance["debt"]) == (20, 0)
    assert verify_ledger(db).ok


def test_a_bonus_repays_debt_too(
    cafe: Till, db: Database, settings: Settings, node_secrets: NodeSecrets
) -> None:
    gus = cafe.at(dk(2026, 2, 20)).join(birthday="1990-03-14")
    bought = cafe.buy(gus, 30000)
    cafe.redeem(gus, 350)
    cafe.refund(gus, bought["transaction"]["id"], 30000)
    assert cafe.balance(gus)["debt"] == 300
    award_birthday_bonuses(db, settings, node_secrets, now=dk(2026, 3, 1, 4))
    balance = cafe.at(dk(2026, 3, 1, 4)).balance(gus)
    assert (balance["points"], balance["debt"]) == (0, 200)
    assert verify_ledger(db).ok


@pytest.mark.parametrize("spent", [0, 450])
def test_spent_store_credit_becomes_debt_that_the_next_cashback_repays(
    cafe: Till, db: Database, spent: int
) -> None:
    jonas = cafe.at(dk(2026, 2, 20)).join()
    bought = cafe.buy(jonas, 25000)
    if spent:
        cafe.spend_credit(jonas, spent)
    refund = cafe.refund(jonas, bought["transaction"]["id"], 25000)["refund"]
    assert (refund["cashback"], refund["debt_cashback"]) == (500, spent)
    assert cafe.credit(jonas) == {
        "customer_id": jonas,
        "currency": "DKK",
        "balance": 0,
        "debt": spent,
    }
    cafe.buy(jonas, 40000)
    assert cafe.credit(jonas)["balance"] == 800 - spent
    assert cafe.credit(jonas)["debt"] == 0
    assert verify_ledger(db).ok
