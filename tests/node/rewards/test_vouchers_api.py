"""Rewards and vouchers through the HTTP API, as a till and a member's app see them."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from node.app import create_app
from node.clock import ManualClock
from node.db import Database
from node.logs import JsonFormatter
from node.secrets import NodeSecrets
from node.services.apikeys import create_api_key
from node.services.verification import verify_ledger
from node.settings import Settings
from tests.factories import earn, make_customer
from tests.node.api.test_operator_api import error_of
from tests.node.conftest import Operator
from tests.node.rewards.conftest import events, member_app, set_tier, snapshot


def test_a_free_coffee_from_redemption_to_the_till(
    operator: Operator, db: Database, clock: ManualClock, member: str
) -> None:
    """The worked example: 1000 points, a 300-point coffee, used once at the till."""
    start = clock.now()
    redeemed = operator.post(f"/api/v1/customers/{member}/vouchers", {"reward": "free-coffee"})
    assert redeemed.status_code == 201, redeemed.text
    body = redeemed.json()
    voucher = body["voucher"]
    code = voucher["code"]
    assert voucher == {
        "code": code,
        "status": "issued",
        "reward": "free-coffee",
        "reward_name": "Free coffee",
        "customer_id": member,
        "points": 300,
        "issued_at": "2026-01-01T00:00:00Z",
        "expires_at": "2026-01-31T00:00:00Z",
        "used_at": None,
        "used_reference": None,
        "cancelled_at": None,
    }
    assert body["transaction"]["kind"] == "reward"
    assert body["transaction"]["points"] == -300
    assert body["transaction"]["reference"] == "free-coffee"
    assert body["balance"] == 700
    assert len(code) == 14 and code[4] == code[9] == "-"

    # The till checks the code the customer shows, typed in lower case without dashes.
    clock.advance(timedelta(days=2))
    typed = code.replace("-", "").lower()
    checked = operator.get(f"/api/v1/vouchers/{typed}")
    assert checked.status_code == 200 and checked.json() == voucher

    used = operator.post(f"/api/v1/vouchers/{typed}/use", {"reference": "sale 1042"}, key="u-1")
    assert used.status_code == 200, used.text
    assert used.json() == {
        **voucher,
        "status": "used",
        "used_at": "2026-01-03T00:00:00Z",
        "used_reference": "sale 1042",
    }
    # The till's retry replays; another till's attempt is refused.
    again = operator.post(f"/api/v1/vouchers/{code}/use", {"reference": "sale 1042"}, key="u-1")
    assert again.status_code == 200 and again.json() == used.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    second = operator.post(f"/api/v1/vouchers/{code}/use", {"reference": "sale 1043"})
    assert second.status_code == 409 and error_of(second) == {
        "code": "voucher_used",
        "message": "this voucher has been used",
        "field": "code",
    }
    assert operator.get(f"/api/v1/vouchers/{code}").json()["status"] == "used"
    cancel = operator.post(f"/api/v1/vouchers/{code}/cancel")
    assert cancel.status_code == 409 and error_of(cancel)["code"] == "voucher_used"

    history = operator.get(f"/api/v1/customers/{member}/transactions").json()["items"]
    assert [(i["kind"], i["points"]) for i in history] == [("reward", -300), ("earn", 1000)]
    assert start < clock.now()
    assert verify_ledger(db).ok


def test_the_catalogue_for_the_operator_and_for_a_member(
    operator: Operator,
    db: Database,
    settings: Settings,
    clock: ManualClock,
    node_secrets: NodeSecrets,
    member: str,
) -> None:
    listed = operator.get("/api/v1/rewards")
    assert listed.status_code == 200
    items = listed.json()["items"]
    # xmas-cake is not available in January.
    assert [i["code"] for i in items] == ["free-coffee", "tote-bag", "gold-lounge"]
    assert items[0] == {
        "code": "free-coffee",
        "name": "Free coffee",
        "points": 300,
        "stock": 2,
        "stock_left": 2,
        "per_customer_limit": 1,
        "available_from": None,
        "available_until": None,
        "voucher_valid_days": 30,
        "tiers": [],
    }
    assert items[1]["stock_left"] is None and items[2]["tiers"] == ["gold"]

    app = member_app(operator, member)
    mine = app.get("/api/v1/me/rewards")
    assert mine.status_code == 200
    assert mine.json()["customer_id"] == member and mine.json()["tier"] == "member"
    assert [(i["code"], i["limit_left"]) for i in mine.json()["items"]] == [
        ("free-coffee", 1),
        ("tote-bag", None),
    ]
    # After the coffee, the member's limit is used up; the stock has one left.
    assert app.post("/api/v1/me/vouchers", {"reward": "free-coffee"}).status_code == 201
    assert [i["code"] for i in app.get("/api/v1/me/rewards").json()["items"]] == ["tote-bag"]
    assert operator.get("/api/v1/rewards").json()["items"][0]["stock_left"] == 1

    # A gold member sees the lounge; the last coffee goes to them and the stock is empty.
    gold = make_customer(db, node_secrets, clock)
    earn(db, settings, clock, gold, 100_000)
    set_tier(db, gold, "gold", clock)
    gold_app = member_app(operator, gold)
    assert [i["code"] for i in gold_app.get("/api/v1/me/rewards").json()["items"]] == [
        "free-coffee",
        "tote-bag",
        "gold-lounge",
    ]
    assert gold_app.post("/api/v1/me/vouchers", {"reward": "free-coffee"}).status_code == 201
    assert [i["code"] for i in operator.get("/api/v1/rewards").json()["items"]] == [
        "tote-bag",
        "gold-lounge",
    ]

    # In December the cake appears.
    clock.set(datetime(2026, 12, 1, tzinfo=UTC))
    codes = [i["code"] for i in operator.get("/api/v1/rewards").json()["items"]]
    assert codes == ["tote-bag", "gold-lounge", "xmas-cake"]


def test_every_refusal_has_its_code_and_changes_nothing(
    operator: Operator,
    db: Database,
    settings: Settings,
    clock: ManualClock,
    node_secrets: NodeSecrets,
    member: str,
) -> None:
    path = f"/api/v1/customers/{member}/vouchers"
    first = operator.post(path, {"reward": "free-coffee"})
    assert first.status_code == 201
    poor = make_customer(db, node_secrets, clock)
    earn(db, settings, clock, poor, 10_000)  # 100 points

    cases: list[tuple[str, dict[str, Any], int, str]] = [
        (path, {"reward": "free-tea"}, 422, "reward_unknown"),
        (path, {"reward": "xmas-cake"}, 409, "reward_unavailable"),
        (path, {"reward": "gold-lounge"}, 409, "tier_required"),
        (path, {"reward": "free-coffee"}, 409, "limit_reached"),
        (f"/api/v1/customers/{poor}/vouchers", {"reward": "tote-bag"}, 409, "insufficient_points"),
        ("/api/v1/customers/cus_nobody/vouchers", {"reward": "tote-bag"}, 404, "not_found"),
        (path, {"reward": "Free Coffee"}, 422, "validation_failed"),
        (path, {"reward": "free-coffee", "extra": 1}, 422, "validation_failed"),
        (path, {}, 422, "validation_failed"),
    ]
    for target, body, status, code in cases:
        before = snapshot(db)
        refused = operator.post(target, body, key="refused")
        assert (refused.status_code, error_of(refused)["code"]) == (status, code), body
        assert snapshot(db) == before, body

    # The last coffee goes to another member; then it is out of stock.
    other = make_customer(db, node_secrets, clock)
    earn(db, settings, clock, other, 100_000)
    assert operator.post(
        f"/api/v1/customers/{other}/vouchers", {"reward": "free-coffee"}
    ).is_success
    third = make_customer(db, node_secrets, clock)
    earn(db, settings, clock, third, 100_000)
    before = snapshot(db)
    out = operator.post(f"/api/v1/customers/{third}/vouchers", {"reward": "free-coffee"})
    assert out.status_code == 409 and error_of(out) == {
        "code": "out_of_stock",
        "message": "this reward is out of stock",
        "field": "reward",
    }
    assert snapshot(db) == before

    # The refused key stayed free: it works for a request that succeeds.
    ok = operator.post(path, {"reward": "tote-bag"}, key="refused")
    assert ok.status_code == 201
    assert verify_ledger(db).ok


def test_redeeming_twice_with_one_key_issues_one_voucher(
    operator: Operator, db: Database, member: str
) -> None:
    path = f"/api/v1/customers/{member}/vouchers"
    first = operator.post(path, {"reward": "tote-bag"}, key="order-9-reward")
    again = operator.post(path, {"reward": "tote-bag"}, key="order-9-reward")
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    other = operator.post(path, {"reward": "free-coffee"}, key="order-9-reward")
    assert other.status_code == 409 and error_of(other)["code"] == "idempotency_key_reused"
    listed = operator.get(path).json()
    assert [v["reward"] for v in listed["items"]] == ["tote-bag"]
    assert operator.get(f"/api/v1/customers/{member}/balance").json()["points"] == 500
    assert len(events(db, "voucher.issued")) == 1


def test_issuing_queues_a_voucher_issued_event(
    operator: Operator, db: Database, member: str
) -> None:
    voucher = operator.post(
        f"/api/v1/customers/{member}/vouchers", {"reward": "free-coffee"}
    ).json()["voucher"]
    [payload] = events(db, "voucher.issued")
    assert json.loads(payload) == {
        "customer_id": member,
        "code": voucher["code"],
        "reward": "free-coffee",
        "points": 300,
        "expires_at": "2026-01-31T00:00:00Z",
    }


def test_cancelling_returns_the_points_and_the_stock(
    operator: Operator, db: Database, clock: ManualClock, member: str
) -> None:
    voucher = operator.post(
        f"/api/v1/customers/{member}/vouchers", {"reward": "free-coffee"}
    ).json()["voucher"]
    assert operator.get("/api/v1/rewards").json()["items"][0]["stock_left"] == 1
    clock.advance(timedelta(days=1))
    cancelled = operator.post(f"/api/v1/vouchers/{voucher['code']}/cancel", key="c-1")
    assert cancelled.status_code == 200, cancelled.text
    body = cancelled.json()
    assert body["voucher"] == {
        **voucher,
        "status": "cancelled",
        "cancelled_at": "2026-01-02T00:00:00Z",
    }
    assert body["transaction"]["kind"] == "reward-return"
    assert body["transaction"]["points"] == 300
    assert body["transaction"]["reference"] == "free-coffee"
    assert body["balance"] == 1000
    replay = operator.post(f"/api/v1/vouchers/{voucher['code']}/cancel", key="c-1")
    assert replay.json() == body and replay.headers["Idempotent-Replayed"] == "true"
    assert operator.get("/api/v1/rewards").json()["items"][0]["stock_left"] == 2

    # The returned points are a new lot expiring a program year (365 days) from now.
    shown = operator.get(f"/api/v1/customers/{member}/balance").json()
    assert shown == {
        "customer_id": member,
        "points": 1000,
        "expiring_points": 700,
        "next_expiry": "2027-01-01T00:00:00Z",
        "debt": 0,
    }
    clock.set(datetime(2027, 1, 1, 12, tzinfo=UTC))
    assert operator.get(f"/api/v1/customers/{member}/balance").json()["points"] == 300

    # The limit no longer counts a cancelled voucher; a used or cancelled one cannot be used.
    again = operator.post(f"/api/v1/vouchers/{voucher['code']}/cancel")
    assert again.status_code == 409 and error_of(again)["code"] == "voucher_cancelled"
    use = operator.post(f"/api/v1/vouchers/{voucher['code']}/use")
    assert use.status_code == 409 and error_of(use)["code"] == "voucher_cancelled"
    assert verify_ledger(db).ok


def test_an_expired_voucher_cannot_be_used_but_can_be_cancelled(
    operator: Operator, db: Database, clock: ManualClock, member: str
) -> None:
    code = operator.post(f"/api/v1/customers/{member}/vouchers", {"reward": "free-coffee"}).json()[
        "voucher"
    ]["code"]
    clock.set(datetime(2026, 1, 31, tzinfo=UTC))  # expires_at: no longer valid
    assert operator.get(f"/api/v1/vouchers/{code}").json()["status"] == "expired"
    before = snapshot(db)
    late = operator.post(f"/api/v1/vouchers/{code}/use")
    assert late.status_code == 409 and error_of(late) == {
        "code": "voucher_expired",
        "message": "this voucher has expired",
        "field": "code",
    }
    assert snapshot(db) == before
    cancelled = operator.post(f"/api/v1/vouchers/{code}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["balance"] == 1000
    assert cancelled.json()["voucher"]["status"] == "cancelled"


def test_a_voucher_without_validity_never_expires(
    operator: Operator, clock: ManualClock, member: str
) -> None:
    voucher = operator.post(f"/api/v1/customers/{member}/vouchers", {"reward": "tote-bag"}).json()[
        "voucher"
    ]
    assert voucher["expires_at"] is None
    clock.advance(timedelta(days=3650))
    used = operator.post(f"/api/v1/vouchers/{voucher['code']}/use")
    assert used.status_code == 200 and used.json()["used_reference"] is None


def test_unknown_and_malformed_codes_are_404(operator: Operator, member: str) -> None:
    for code in ("0000-0000-0000", "not-a-code", "UUUU-UUUU-UUUU", "0" * 13):
        for response in (
            operator.get(f"/api/v1/vouchers/{code}"),
            operator.post(f"/api/v1/vouchers/{code}/use"),
            operator.post(f"/api/v1/vouchers/{code}/cancel"),
        ):
            assert response.status_code == 404 and error_of(response) == {
                "code": "not_found",
                "message": "no such voucher",
                "field": "code",
            }
    bad_reference = operator.post("/api/v1/vouchers/0000-0000-0000/use", {"reference": "a\nb"})
    assert bad_reference.status_code == 422


def test_the_member_app_redeems_lists_and_cancels_only_its_own(
    operator: Operator,
    db: Database,
    settings: Settings,
    clock: ManualClock,
    node_secrets: NodeSecrets,
    member: str,
) -> None:
    app = member_app(operator, member)
    redeemed = app.post("/api/v1/me/vouchers", {"reward": "tote-bag"}, key="tote")
    assert redeemed.status_code == 201 and redeemed.json()["balance"] == 500
    replay = app.post("/api/v1/me/vouchers", {"reward": "tote-bag"}, key="tote")
    assert replay.json() == redeemed.json() and replay.headers["Idempotent-Replayed"] == "true"
    clock.advance(timedelta(minutes=1))
    coffee = app.post("/api/v1/me/vouchers", {"reward": "free-coffee"}).json()["voucher"]
    listed = app.get("/api/v1/me/vouchers").json()
    assert [v["reward"] for v in listed["items"]] == ["free-coffee", "tote-bag"]
    assert listed["next_cursor"] is None
    assert operator.get(f"/api/v1/customers/{member}/vouchers").json() == listed

    # Another member cannot cancel (or even see) this member's voucher.
    other = make_customer(db, node_secrets, clock)
    earn(db, settings, clock, other, 100_000)
    stranger = member_app(operator, other)
    before = snapshot(db)
    theirs = stranger.post(f"/api/v1/me/vouchers/{coffee['code']}/cancel")
    assert theirs.status_code == 404 and error_of(theirs)["field"] == "code"
    assert snapshot(db) == before
    assert stranger.get("/api/v1/me/vouchers").json() == {"items": [], "next_cursor": None}

    mine = app.post(f"/api/v1/me/vouchers/{coffee['code']}/cancel")
    assert mine.status_code == 200 and mine.json()["balance"] == 500
    assert mine.json()["voucher"]["status"] == "cancelled"

    # Member tokens do not reach the till's routes, and API keys not the member's.
    assert app.get(f"/api/v1/vouchers/{coffee['code']}").status_code == 401
    assert app.get("/api/v1/rewards").status_code == 401
    assert operator.get("/api/v1/me/rewards").status_code == 401
    assert operator.post("/api/v1/me/vouchers", {"reward": "tote-bag"}).status_code == 401


def test_voucher_lists_page_newest_first(
    operator: Operator, clock: ManualClock, member: str
) -> None:
    codes = []
    for _ in range(2):
        codes.append(
            operator.post(f"/api/v1/customers/{member}/vouchers", {"reward": "tote-bag"}).json()[
                "voucher"
            ]["code"]
        )
        clock.advance(timedelta(seconds=1))
    path = f"/api/v1/customers/{member}/vouchers"
    page = operator.get(path, params={"limit": "1"}).json()
    assert [v["code"] for v in page["items"]] == [codes[1]]
    rest = operator.get(path, params={"limit": "1", "cursor": page["next_cursor"]}).json()
    assert [v["code"] for v in rest["items"]] == [codes[0]] and rest["next_cursor"] is None
    bad = operator.get(path, params={"cursor": "zz"})
    assert bad.status_code == 400 and error_of(bad)["field"] == "cursor"
    unknown = operator.get("/api/v1/customers/cus_nobody/vouchers")
    assert unknown.status_code == 404


def test_writes_need_an_idempotency_key(operator: Operator, member: str) -> None:
    code = operator.post(f"/api/v1/customers/{member}/vouchers", {"reward": "tote-bag"}).json()[
        "voucher"
    ]["code"]
    for path, body in (
        (f"/api/v1/customers/{member}/vouchers", {"reward": "tote-bag"}),
        (f"/api/v1/vouchers/{code}/use", {}),
        (f"/api/v1/vouchers/{code}/cancel", None),
    ):
        response = operator.client.post(path, json=body, headers=operator.auth)
        assert response.status_code == 400, path
        assert error_of(response)["code"] == "idempotency_key_missing"


def test_voucher_codes_never_reach_the_logs(
    settings: Settings,
    db: Database,
    clock: ManualClock,
    node_secrets: NodeSecrets,
    member: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    debug = settings.model_copy(update={"log_level": "DEBUG"})
    app = create_app(debug, clock=clock, secrets=node_secrets, database=db, run_jobs=False)
    with TestClient(app, base_url="http://cafe.test") as client:
        till = Operator(client, create_api_key(db, name="till", now=clock.now()).token)
        code = till.post(f"/api/v1/customers/{member}/vouchers", {"reward": "tote-bag"}).json()[
            "voucher"
        ]["code"]
        till.get(f"/api/v1/vouchers/{code}")
        till.post(f"/api/v1/vouchers/{code}/use", {"reference": "1"})
        till.post(f"/api/v1/vouchers/{code}/use", {"reference": "2"})
        till.post(f"/api/v1/vouchers/{code}/cancel")
    node_records = [r for r in caplog.records if not r.name.startswith("httpx")]
    assert any(r.name == "konsort.http" for r in node_records)
    written = "\n".join(JsonFormatter().format(record) for record in node_records)
    assert code not in written and code.replace("-", "") not in written
