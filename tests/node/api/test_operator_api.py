"""The operator API as a till sees it: status codes, bodies, headers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from node.clock import ManualClock
from node.db import Database
from node.services.apikeys import create_api_key, revoke_api_key
from node.services.verification import verify_ledger
from tests.node.conftest import Operator


def error_of(response: object) -> dict[str, object]:
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "field"}
    return dict(body["error"])


def test_enrol_earn_redeem_balance_history(operator: Operator) -> None:
    customer = operator.enrol(name="Ann Example", email="ann@example.com")
    earned = operator.earn(customer, 12_345)
    assert earned.status_code == 201
    assert earned.json()["transaction"]["points"] == 123
    redeemed = operator.post(f"/api/v1/customers/{customer}/redemptions", {"points": 23})
    assert redeemed.status_code == 201 and redeemed.json()["balance"] == 100
    balance = operator.get(f"/api/v1/customers/{customer}/balance").json()
    assert balance["points"] == 100 and balance["customer_id"] == customer
    history = operator.get(f"/api/v1/customers/{customer}/transactions").json()
    assert [(i["kind"], i["points"]) for i in history["items"]] == [("redeem", -23), ("earn", 123)]
    assert history["next_cursor"] is None


def test_history_pages_with_a_cursor(operator: Operator) -> None:
    customer = operator.enrol()
    for amount in (100, 200, 300, 400, 500):
        operator.earn(customer, amount * 100)
    seen: list[int] = []
    cursor = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = operator.get(f"/api/v1/customers/{customer}/transactions", params=params).json()
        seen += [item["points"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [500, 400, 300, 200, 100]
    bad = operator.get(f"/api/v1/customers/{customer}/transactions", params={"cursor": "zz"})
    assert bad.status_code == 400 and error_of(bad)["field"] == "cursor"
    too_many = operator.get(f"/api/v1/customers/{customer}/transactions", params={"limit": "501"})
    assert too_many.status_code == 422 and error_of(too_many)["field"] == "limit"


def test_retry_with_the_same_key_replays_and_earns_once(operator: Operator) -> None:
    customer = operator.enrol()
    first = operator.earn(customer, 5_000, key="order-77")
    again = operator.earn(customer, 5_000, key="order-77")
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    other = operator.earn(customer, 9_000, key="order-77")
    assert other.status_code == 409 and error_of(other)["code"] == "idempotency_key_reused"
    assert operator.get(f"/api/v1/customers/{customer}/balance").json()["points"] == 50


def test_writes_need_an_idempotency_key(operator: Operator) -> None:
    customer = operator.enrol()
    response = operator.client.post(
        f"/api/v1/customers/{customer}/purchases", json={"amount": 100}, headers=operator.auth
    )
    assert response.status_code == 400
    assert error_of(response) == {
        "code": "idempotency_key_missing",
        "message": "writes need an Idempotency-Key header (any unique string, e.g. a UUID)",
        "field": "Idempotency-Key",
    }
    long_key = operator.earn(customer, 100, key="k" * 201)
    assert long_key.status_code == 400


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "amount"),
        ({"amount": 1.5}, "amount"),
        ({"amount": "100"}, "amount"),
        ({"amount": True}, "amount"),
        ({"amount": 0}, "amount"),
        ({"amount": -5}, "amount"),
        ({"amount": 10**13}, "amount"),
        ({"amount": 100, "points": 5}, "points"),
        ({"amount": 100, "currency": "EUR"}, "currency"),
        ({"amount": 100, "currency": "dkk"}, "currency"),
        ({"amount": 100, "order_ref": ""}, "order_ref"),
        ({"amount": 100, "order_ref": "x" * 201}, "order_ref"),
        ({"amount": 100, "order_ref": "   "}, "order_ref"),
        ({"amount": 100, "order_ref": "a\u0085b"}, "order_ref"),
    ],
)
def test_bad_purchases_are_422_and_write_nothing(
    operator: Operator, db: Database, body: dict[str, object], field: str
) -> None:
    customer = operator.enrol()
    response = operator.post(f"/api/v1/customers/{customer}/purchases", body)
    assert response.status_code == 422, response.text
    assert error_of(response)["field"] == field
    assert verify_ledger(db).totals.get("customer", 0) == 0


def test_malformed_bodies_are_4xx(operator: Operator) -> None:
    customer = operator.enrol()
    path = f"/api/v1/customers/{customer}/purchases"
    headers = {**operator.auth, "Idempotency-Key": "m1", "Content-Type": "application/json"}
    not_json = operator.client.post(path, content=b"{amount", headers=headers)
    assert not_json.status_code == 400 and error_of(not_json)["code"] == "invalid_json"
    a_list = operator.client.post(path, content=b"[1]", headers=headers)
    assert a_list.status_code == 422
    huge = operator.client.post(path, content=b" " * 70_000, headers=headers)
    assert huge.status_code == 413 and error_of(huge)["code"] == "payload_too_large"
    form = operator.client.post(
        path, content=b"amount=1", headers={**headers, "Content-Type": "text/plain"}
    )
    assert form.status_code == 415 and error_of(form)["code"] == "unsupported_media_type"


def test_redeeming_more_than_the_balance_is_409(operator: Operator) -> None:
    customer = operator.enrol()
    operator.earn(customer, 1_000)
    response = operator.post(f"/api/v1/customers/{customer}/redemptions", {"points": 11})
    assert response.status_code == 409
    assert error_of(response) == {
        "code": "insufficient_points",
        "message": "the balance does not cover this many points",
        "field": "points",
    }


def test_unknown_customer_and_route_are_404(operator: Operator) -> None:
    missing = operator.earn("cus_nobody", 100)
    assert missing.status_code == 404 and error_of(missing)["field"] == "customer_id"
    route = operator.get("/api/v1/nothing-here")
    assert route.status_code == 404 and error_of(route)["code"] == "not_found"
    method = operator.client.delete("/api/v1/customers")
    assert method.status_code == 405 and error_of(method)["code"] == "method_not_allowed"
    assert method.headers["Allow"] == "POST"


def test_api_keys_are_required_checked_and_revocable(
    client: TestClient, db: Database, clock: ManualClock
) -> None:
    assert client.get("/api/v1/customers/x").status_code == 401
    bad = client.get("/api/v1/customers/x", headers={"Authorization": "Bearer ksk_nope"})
    assert bad.status_code == 401 and bad.headers["WWW-Authenticate"] == "Bearer"
    key = create_api_key(db, name="till 2", now=clock.now())
    operator = Operator(client, key.token)
    customer = operator.enrol()
    assert operator.get(f"/api/v1/customers/{customer}").status_code == 200
    revoke_api_key(db, key_id=key.id, now=clock.now())  # as `konsort apikey revoke` does
    # Verified keys are trusted for api_key_cache_seconds (5) without a database read.
    assert operator.get(f"/api/v1/customers/{customer}").status_code == 200
    clock.advance(timedelta(seconds=5))
    assert operator.get(f"/api/v1/customers/{customer}").status_code == 401


def test_enrolment_refuses_a_second_customer_with_the_same_email(operator: Operator) -> None:
    operator.enrol(email="ann@example.com")
    again = operator.post("/api/v1/customers", {"email": "ANN@example.com "})
    assert again.status_code == 409
    assert "ann" not in again.text.lower()  # no personal data in error texts
    found = operator.post("/api/v1/customers/lookup", {"email": "Ann@Example.com"})
    assert found.status_code == 200 and found.json()["customer_id"].startswith("cus_")
    assert operator.post("/api/v1/customers/lookup", {"email": "bob@x.org"}).status_code == 404


def test_enrolment_validates_personal_fields(operator: Operator) -> None:
    for body in (
        {"email": "not-an-email"},
        {"birthday": "31-12-1990"},
        {"phone": "call me"},
        {"nickname": "x"},
    ):
        response = operator.post("/api/v1/customers", body)
        assert response.status_code == 422, body
        assert body[next(iter(body))] not in response.text


def test_customer_tokens_reach_only_their_own_points(
    operator: Operator, client: TestClient, clock: ManualClock
) -> None:
    ann = operator.enrol()
    operator.earn(ann, 7_000)
    minted = operator.post(f"/api/v1/customers/{ann}/tokens")
    assert minted.status_code == 201
    token = minted.json()["token"]
    mine = client.get("/api/v1/me/balance", headers={"Authorization": f"Bearer {token}"})
    assert mine.status_code == 200 and mine.json() == {
        "customer_id": ann,
        "points": 70,
        "debt": 0,
        "expiring_points": 70,
        "next_expiry": "2027-01-01T00:00:00Z",
    }
    history = client.get("/api/v1/me/transactions", headers={"Authorization": f"Bearer {token}"})
    assert [item["points"] for item in history.json()["items"]] == [70]
    # A customer token is not an operator key, and expires.
    as_operator = client.get(
        f"/api/v1/customers/{ann}", headers={"Authorization": f"Bearer {token}"}
    )
    assert as_operator.status_code == 401
    clock.advance(timedelta(minutes=16))
    late = client.get("/api/v1/me/balance", headers={"Authorization": f"Bearer {token}"})
    assert late.status_code == 401 and error_of(late)["message"] == "the customer token has expired"


def test_an_operator_key_is_not_a_customer_token(operator: Operator) -> None:
    response = operator.get("/api/v1/me/balance")
    assert response.status_code == 401


def test_each_api_key_has_its_own_idempotency_keys(
    operator: Operator, client: TestClient, db: Database, clock: ManualClock
) -> None:
    other_till = Operator(client, create_api_key(db, name="till 2", now=clock.now()).token)
    customer = operator.enrol()
    first = operator.earn(customer, 1_000, key="sale-1")
    second = other_till.earn(customer, 2_000, key="sale-1")  # its own sale number 1
    assert first.status_code == second.status_code == 201
    assert "Idempotent-Replayed" not in second.headers
    assert operator.get(f"/api/v1/customers/{customer}/balance").json()["points"] == 30


def test_ledger_rows_record_which_api_key_wrote_them(
    operator: Operator, db: Database, clock: ManualClock
) -> None:
    customer = operator.enrol()
    operator.earn(customer, 1_000)
    with db.read() as session:
        actors = set(session.execute(text("SELECT actor FROM ledger_transaction")).scalars())
    assert len(actors) == 1 and actors.pop().startswith("key_")


def test_references_take_any_printable_text(operator: Operator) -> None:
    customer = operator.enrol()
    operator.earn(customer, 10_000)
    ok = operator.post(
        f"/api/v1/customers/{customer}/redemptions", {"points": 5, "reference": "kaffe på huset"}
    )
    assert ok.status_code == 201 and ok.json()["transaction"]["reference"] == "kaffe på huset"
    bad = operator.post(
        f"/api/v1/customers/{customer}/redemptions", {"points": 5, "reference": "a\u0000b"}
    )
    assert bad.status_code == 422
    assert error_of(bad)["message"] == (
        "reference: contains characters or a format that is not allowed"
    )
