"""Products on purchase lines, and the ``product_count`` offer rule (docs/program.md, O4)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from node.db import Database
from node.errors import ValidationFailed
from node.program import load_program_file
from node.program.offers import ProductCount, explain, fires
from node.store import offers as offer_store
from node.store.sql import RawSQL, raw
from tests.node.program.cafe import (
    APPLIED_AT,
    DOC,
    Till,
    cafe_program,
    dk,
    doc_program_text,
    error_of,
)
from tests.node.program.club import events_of, ledger_ok
from tests.node.program.offers_helpers import (
    join,
    offers_of,
    product_offers_program,
    stored_offers,
)

ETHIOPIA, COLOMBIA = "BEANS-ETH-250", "BEANS-COL-250"


@pytest.fixture
def shop(till: Till) -> Till:
    till.at(APPLIED_AT).apply(product_offers_program(), comment="product offers")
    return till


def bag(product: str, amount: int = 9000) -> dict[str, Any]:
    return {"category": "beans", "product": product, "amount": amount}


def buy(
    till: Till, customer: str, *lines: dict[str, Any], key: str | None = None
) -> dict[str, Any]:
    body = {"amount": sum(int(line["amount"]) for line in lines), "lines": list(lines)}
    response = till.post(f"/api/v1/customers/{customer}/purchases", body, key=key)
    assert response.status_code == 201, response.text
    return dict(response.json())


def stored_lines(db: Database, customer: str) -> list[tuple[str, str | None, int]]:
    with db.read() as session:
        rows = session.execute(
            text(
                "SELECT l.category, l.product, l.amount FROM purchase_line l JOIN purchase p"
                " ON p.id = l.purchase_id WHERE p.customer_id = :c ORDER BY l.id"
            ),
            {"c": customer},
        ).all()
    return [(str(r[0]), r[1], int(r[2])) for r in rows]


# -- the worked example -----------------------------------------------------------------


def test_example_o4_ethiopian_beans_twice_in_two_weeks(shop: Till, db: Database) -> None:
    mette = join(shop.at(dk(2026, 3, 1, 9)))
    first = buy(shop.at(dk(2026, 3, 2, 10)), mette, bag(ETHIOPIA))
    second = buy(shop.at(dk(2026, 3, 23, 10)), mette, bag(ETHIOPIA))
    colombian = buy(shop.at(dk(2026, 3, 26, 10)), mette, bag(COLOMBIA))
    assert [a["earning"]["points"] for a in (first, second, colombian)] == [180, 180, 180]
    assert all("offers_issued" not in a["earning"] for a in (first, second, colombian))
    assert offers_of(shop, mette) == []

    third = buy(shop.at(dk(2026, 3, 30, 10)), mette, bag(ETHIOPIA))
    [issued] = third["earning"]["offers_issued"]
    [offer] = offers_of(shop, mette)
    assert offer["id"] == issued and offer["status"] == "pending"
    explanation = (
        "You bought BEANS-ETH-250 twice in the last 14 days, so you get the discount code"
        " ETHIOPIA-10."
    )
    assert offer["explanation"] == explanation
    quoted = re.search(r"> (You bought BEANS-ETH-250.*?)\n\n", DOC.read_text(), re.DOTALL)
    assert quoted and " ".join(quoted.group(1).replace("> ", "").split()) == explanation
    assert offer["facts"]["count"] == 2
    assert offer["facts"]["condition"] == {
        "kind": "product_count",
        "product": ETHIOPIA,
        "times": 2,
        "within_days": 14,
    }
    assert offer["reward"]["discount_code"] == "ETHIOPIA-10"
    assert shop.balance(mette)["points"] == 770
    assert [e["offer"] for e in events_of(db, "offer.issued")] == [issued]
    assert stored_lines(db, mette) == [
        ("beans", ETHIOPIA, 9000),
        ("beans", ETHIOPIA, 9000),
        ("beans", COLOMBIA, 9000),
        ("beans", ETHIOPIA, 9000),
    ]
    ledger_ok(db)


# -- the rule -------------------------------------------------------------------------


def test_the_rule_fires_at_the_nth_purchase_not_before_and_counts_purchases(
    shop: Till,
) -> None:
    ida = join(shop.at(dk(2026, 3, 2, 9)))
    # Two lines of the product in one purchase are one purchase.
    once = buy(shop.at(dk(2026, 3, 2, 10)), ida, bag(ETHIOPIA), bag(ETHIOPIA, 4500))
    assert "offers_issued" not in once["earning"]
    twice = buy(shop.at(dk(2026, 3, 3, 10)), ida, bag(COLOMBIA), bag(ETHIOPIA))
    assert len(twice["earning"]["offers_issued"]) == 1


def test_the_window_is_respected(shop: Till) -> None:
    jon = join(shop.at(dk(2026, 3, 1, 9)))
    buy(shop.at(dk(2026, 3, 2, 10)), jon, bag(ETHIOPIA))
    # 14 days and a minute later the first bag is out of the window.
    late = buy(shop.at(dk(2026, 3, 16, 10, 1)), jon, bag(ETHIOPIA))
    assert "offers_issued" not in late["earning"]
    # Within 14 days of the second, the third makes two.
    third = buy(shop.at(dk(2026, 3, 29, 10)), jon, bag(ETHIOPIA))
    assert len(third["earning"]["offers_issued"]) == 1


def test_other_members_purchases_of_the_product_do_not_count(shop: Till) -> None:
    ann, bo = join(shop.at(dk(2026, 3, 1, 9))), join(shop)
    for day in (2, 3, 4):
        buy(shop.at(dk(2026, 3, day, 10)), ann, bag(ETHIOPIA))
    assert len(offers_of(shop, ann)) == 1
    first = buy(shop.at(dk(2026, 3, 5, 10)), bo, bag(ETHIOPIA))
    assert "offers_issued" not in first["earning"] and offers_of(shop, bo) == []


def test_without_profiling_consent_nothing_is_computed(
    shop: Till, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []
    real = offer_store.product_purchases

    def spy(**kwargs: Any) -> int:
        asked.append(str(kwargs["customer_id"]))
        return real(**kwargs)

    monkeypatch.setattr(offer_store, "product_purchases", spy)
    shop.at(dk(2026, 3, 1, 9))
    for member in (join(shop, profiling=False), join(shop, offers=False)):
        answers = [buy(shop, member, bag(ETHIOPIA)) for _ in range(3)]
        assert [a["earning"]["points"] for a in answers] == [180, 180, 180]
        assert all("offers_issued" not in a["earning"] for a in answers)
    assert asked == [] and stored_offers(db) == 0
    # The spy does see a member who consents to both: it can fail.
    liv = join(shop)
    buy(shop, liv, bag(ETHIOPIA))
    assert asked == [liv]


def test_the_explanation_in_plain_words() -> None:
    rule = product_offers_program().offers[0]
    assert isinstance(rule.condition, ProductCount)
    assert fires(rule.condition, {"count": 2}) and not fires(rule.condition, {"count": 1})
    words = explain(rule, {"count": 3}, currency="DKK", exponent=2)
    assert words == (
        "You bought BEANS-ETH-250 3 times in the last 14 days, so you get the discount code"
        " ETHIOPIA-10."
    )
    assert rule.is_profiling and rule.after_purchase


@pytest.mark.parametrize(
    ("product", "times"),
    [("", 2), ("-BEANS", 2), ("BEANS ETH", 2), ("B" * 65, 2), (ETHIOPIA, 0)],
)
def test_a_bad_product_rule_is_refused(till: Till, product: str, times: int) -> None:
    condition = {"kind": "product_count", "product": product, "times": times, "within_days": 14}
    rule = {"code": "bad", "name": "Bad", "reward": {"bonus_points": 1}, "condition": condition}
    toml = (
        '\n[[offers]]\ncode = "bad"\nname = "Bad"\nreward = { bonus_points = 1 }\n'
        f'condition = {{ kind = "product_count", product = "{product}", times = {times},'
        " within_days = 14 }\n"
    )
    with pytest.raises(ValidationFailed) as refused:
        load_program_file(doc_program_text() + toml)
    assert refused.value.field is not None and refused.value.field.startswith("offers.0.")
    program = {**cafe_program().model_dump(mode="json"), "offers": [rule]}
    response = till.post("/api/v1/program/validate", {"program": program})
    assert response.status_code == 422, response.text
    assert error_of(response)["field"].startswith("program.offers.0.condition")
    condition.update(product=ETHIOPIA, times=2)
    assert till.post("/api/v1/program/validate", {"program": program}).status_code == 200


# -- purchases with products -------------------------------------------------------------


@pytest.mark.parametrize("product", ["", "-x", "BEANS ETH", "BEANS\n", "Ø-250", "B" * 65, 42])
def test_a_bad_product_code_is_refused_and_nothing_is_written(
    cafe: Till, db: Database, product: object
) -> None:
    ann = cafe.at(dk(2026, 3, 2, 9)).enrol()
    response = cafe.post(
        f"/api/v1/customers/{ann}/purchases",
        {"amount": 9000, "lines": [{"category": "beans", "product": product, "amount": 9000}]},
    )
    assert response.status_code == 422, response.text
    assert error_of(response)["field"] == "lines.0.product"
    assert stored_lines(db, ann) == []
    assert cafe.balance(ann)["points"] == 50


def test_lines_without_a_product_store_none(cafe: Till, db: Database) -> None:
    ann = cafe.at(dk(2026, 3, 2, 9)).enrol()
    cafe.buy(ann, lines={"beans": 9000, "pastry": 3000})
    buy(cafe, ann, {"amount": 100, "product": "X.1_a-B"})
    assert stored_lines(db, ann) == [
        ("beans", None, 9000),
        ("pastry", None, 3000),
        ("", "X.1_a-B", 100),
    ]


def test_a_retry_replays_and_another_product_under_the_same_key_is_refused(
    cafe: Till, db: Database
) -> None:
    ann = cafe.at(dk(2026, 3, 2, 9)).enrol()
    path = f"/api/v1/customers/{ann}/purchases"
    body = {"amount": 9000, "lines": [bag(ETHIOPIA)]}
    first = cafe.post(path, body, key="1042-earn")
    assert first.status_code == 201, first.text
    again = cafe.post(path, body, key="1042-earn")
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    for lines in ([bag(COLOMBIA)], [{"category": "beans", "amount": 9000}]):
        refused = cafe.post(path, {"amount": 9000, "lines": lines}, key="1042-earn")
        assert refused.status_code == 409, refused.text
        assert error_of(refused)["code"] == "idempotency_key_reused"
    assert stored_lines(db, ann) == [("beans", ETHIOPIA, 9000)]
    assert cafe.balance(ann)["points"] == 50 + 180
    ledger_ok(db)


def test_a_request_without_products_keeps_the_digest_it_always_had(
    cafe: Till, db: Database
) -> None:
    """Answers stored before products existed still replay: the digest is unchanged."""
    ann = cafe.at(dk(2026, 3, 2, 9)).enrol()
    body = {"amount": 12000, "order_ref": "o-1", "lines": [{"category": "beans", "amount": 12000}]}
    assert cafe.post(f"/api/v1/customers/{ann}/purchases", body).status_code == 201
    before_products = {
        "operation": "purchase",
        "request": {
            "amount": 12000,
            "currency": "DKK",
            "customer_id": ann,
            "lines": [["beans", 12000]],
            "order_ref": "o-1",
        },
    }
    expected = hashlib.sha256(
        json.dumps(before_products, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    with db.read() as session:
        digests = session.execute(
            text("SELECT request_digest FROM idempotency_record WHERE operation = 'purchase'")
        ).scalars()
        assert expected in set(digests)


@contextmanager
def statements() -> Iterator[list[tuple[str, tuple[Any, ...]]]]:
    """Every statement sent while the block runs: driver-level (RawSQL) and Core."""
    seen: list[tuple[str, tuple[Any, ...]]] = []
    real = RawSQL.execute

    def counted(self: RawSQL, statement: str, params: tuple[Any, ...] = ()) -> Any:
        seen.append((statement, params))
        return real(self, statement, params)

    def core(conn: Any, cursor: Any, statement: str, params: Any, *args: Any) -> None:
        seen.append((statement, ()))

    RawSQL.execute = counted  # type: ignore[method-assign]
    event.listen(Engine, "before_cursor_execute", core)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", core)
        RawSQL.execute = real  # type: ignore[method-assign]


def test_products_add_no_statement_to_an_earn(cafe: Till) -> None:
    cafe.at(dk(2026, 3, 2, 9))
    plain, with_products = cafe.enrol(), cafe.enrol()
    lines = [{"category": "beans", "amount": 9000}, {"category": "pastry", "amount": 3000}]
    for customer in (plain, with_products):
        buy(cafe, customer, *lines)  # warm: the member's first purchase
    with statements() as without:
        buy(cafe, plain, *lines)
    with statements() as products:
        buy(cafe, with_products, *[{**line, "product": f"SKU-{i}"} for i, line in enumerate(lines)])
    assert without and len(products) == len(without)


def test_the_fact_query_reads_only_the_members_rows_on_indexes(shop: Till, db: Database) -> None:
    ann = join(shop.at(dk(2026, 3, 1, 9)))
    buy(shop.at(dk(2026, 3, 2, 10)), ann, bag(ETHIOPIA))
    now = dk(2026, 3, 3, 10)
    with db.read() as session, statements() as seen:
        count = offer_store.product_purchases(
            session=session, customer_id=ann, product=ETHIOPIA, since=now - timedelta(days=14)
        )
        other = offer_store.product_purchases(
            session=session, customer_id=ann, product=COLOMBIA, since=now - timedelta(days=14)
        )
    assert (count, other) == (1, 0)
    if db.engine.dialect.name != "sqlite":
        return  # PostgreSQL plans tiny tables as scans; the plan is checked on SQLite
    [(statement, params), _] = [found for found in seen if "purchase_line" in found[0]]
    with db.read() as session:
        plan = " | ".join(
            str(row[-1]) for row in raw(session).all(f"EXPLAIN QUERY PLAN {statement}", params)
        )
    assert "ix_purchase_customer_time" in plan, plan
    assert "ix_purchase_line_purchase_product" in plan, plan
    assert not re.search(r"SCAN (p|l|purchase|purchase_line)\b", plan), plan
