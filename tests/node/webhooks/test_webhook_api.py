"""The webhook API as an operator sees it: endpoints, secrets, deliveries, retries."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from node.clock import ManualClock, isoformat
from node.db import Database
from node.secrets import NodeSecrets
from node.services.webhook_delivery import RetryPolicy
from tests.node.conftest import Operator
from tests.node.webhooks.conftest import Receiver, deliver, deliveries, record_event

URL = "https://hooks.example/konsort"


def error_of(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "field"}
    return dict(body["error"])


def add(operator: Operator, key: str | None = None, **body: Any) -> Any:
    return operator.post(
        "/api/v1/webhooks", {"url": URL, "events": ["tier.changed"], **body}, key=key
    )


def test_add_list_and_disable_a_webhook(operator: Operator, clock: ManualClock) -> None:
    created = add(operator, events=["tier.changed", "points.expiring"])
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["id"].startswith("whk_")
    assert body["url"] == URL and body["events"] == ["tier.changed", "points.expiring"]
    assert body["enabled"] is True and body["created_at"] == isoformat(clock.now())
    assert body["secret"].startswith("whsec_")
    assert len(base64.b64decode(body["secret"].removeprefix("whsec_"))) == 32

    listed = operator.get("/api/v1/webhooks").json()
    assert listed == {"items": [{k: v for k, v in body.items() if k != "secret"}]}

    disabled = operator.client.delete(
        f"/api/v1/webhooks/{body['id']}", headers={**operator.auth, "Idempotency-Key": "off-1"}
    )
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["enabled"] is False and disabled.json()["cancelled_deliveries"] == 0
    again = operator.client.delete(
        f"/api/v1/webhooks/{body['id']}", headers={**operator.auth, "Idempotency-Key": "off-2"}
    )
    assert again.status_code == 200 and again.json()["enabled"] is False
    assert operator.get("/api/v1/webhooks").json()["items"][0]["enabled"] is False


def test_the_secret_is_sealed_at_rest_and_a_replay_returns_it_again(
    operator: Operator, db: Database
) -> None:
    first = add(operator, key="hook-1")
    replay = add(operator, key="hook-1")
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    assert add(operator, key="hook-1", url="https://else.example/").status_code == 409

    secret = first.json()["secret"]
    key = base64.b64decode(secret.removeprefix("whsec_"))
    with db.read() as session:
        stored = session.execute(text("SELECT secret FROM webhook_endpoint")).scalar_one()
        answers = session.execute(text("SELECT response FROM idempotency_record")).scalars()
        text_at_rest = " ".join(answers)
    assert key not in bytes(stored) and secret.encode() not in bytes(stored)
    assert secret not in text_at_rest and secret.removeprefix("whsec_") not in text_at_rest


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "url"),
        ({"url": URL}, "events"),
        ({"events": ["tier.changed"]}, "url"),
        ({"url": "ftp://hooks.example/x", "events": ["tier.changed"]}, "url"),
        ({"url": "hooks.example/x", "events": ["tier.changed"]}, "url"),
        ({"url": "https://", "events": ["tier.changed"]}, "url"),
        ({"url": "https://:443/x", "events": ["tier.changed"]}, "url"),
        ({"url": "https://h.example:99999/", "events": ["tier.changed"]}, "url"),
        ({"url": "https://h.example/a b", "events": ["tier.changed"]}, "url"),
        ({"url": "https://h.example/\u00e6", "events": ["tier.changed"]}, "url"),
        ({"url": "https://h.example/#x", "events": ["tier.changed"]}, "url"),
        ({"url": "https://h.example/" + "a" * 500, "events": ["tier.changed"]}, "url"),
        ({"url": "", "events": ["tier.changed"]}, "url"),
        ({"url": 5, "events": ["tier.changed"]}, "url"),
        ({"url": URL, "events": []}, "events"),
        ({"url": URL, "events": "tier.changed"}, "events"),
        ({"url": URL, "events": ["tier.changed", "points.gone"]}, "events.1"),
        ({"url": URL, "events": ["tier.changed", "tier.changed"]}, "events.1"),
        ({"url": URL, "events": [7]}, "events.0"),
        ({"url": URL, "events": ["tier.changed"], "secret": "mine"}, "secret"),
    ],
)
def test_bad_webhooks_are_422_and_write_nothing(
    operator: Operator, body: dict[str, Any], field: str
) -> None:
    response = operator.post("/api/v1/webhooks", body)
    assert response.status_code == 422, response.text
    assert error_of(response)["field"] == field
    assert operator.get("/api/v1/webhooks").json() == {"items": []}


def test_rotating_the_secret(operator: Operator) -> None:
    created = add(operator).json()
    path = f"/api/v1/webhooks/{created['id']}/secret"
    rotated = operator.post(path, key="rotate-1")
    assert rotated.status_code == 200, rotated.text
    assert set(rotated.json()) == {"id", "secret", "previous_secret_valid_until"}
    assert rotated.json()["secret"].startswith("whsec_")
    assert rotated.json()["secret"] != created["secret"]
    assert operator.post(path, key="rotate-1").json() == rotated.json()
    assert operator.post(path).json()["secret"] != rotated.json()["secret"]

    missing = operator.post("/api/v1/webhooks/whk_nope/secret")
    assert missing.status_code == 404 and error_of(missing)["field"] == "id"
    operator.client.delete(
        f"/api/v1/webhooks/{created['id']}", headers={**operator.auth, "Idempotency-Key": "d"}
    )
    refused = operator.post(path)
    assert refused.status_code == 409 and error_of(refused)["code"] == "webhook_disabled"


def test_webhook_writes_need_an_idempotency_key(operator: Operator) -> None:
    created = add(operator).json()
    for response in (
        operator.client.post("/api/v1/webhooks", json={"url": URL}, headers=operator.auth),
        operator.client.delete(f"/api/v1/webhooks/{created['id']}", headers=operator.auth),
        operator.client.post(f"/api/v1/webhooks/{created['id']}/secret", headers=operator.auth),
        operator.client.post("/api/v1/webhooks/deliveries/dlv_1/retry", headers=operator.auth),
    ):
        assert response.status_code in (400, 422)
    missing = operator.client.delete(f"/api/v1/webhooks/{created['id']}", headers=operator.auth)
    assert error_of(missing)["code"] == "idempotency_key_missing"
    assert operator.get("/api/v1/webhooks").json()["items"][0]["enabled"] is True
    unknown = operator.client.delete(
        "/api/v1/webhooks/whk_nope", headers={**operator.auth, "Idempotency-Key": "x"}
    )
    assert unknown.status_code == 404


def test_webhook_routes_need_an_api_key(operator: Operator) -> None:
    assert operator.client.get("/api/v1/webhooks").status_code == 401
    assert operator.client.get("/api/v1/webhooks/deliveries").status_code == 401


def test_deliveries_list_and_a_failed_one_can_be_retried(
    operator: Operator,
    db: Database,
    node_secrets: NodeSecrets,
    clock: ManualClock,
    receiver: Receiver,
) -> None:
    hook = add(operator).json()
    events = [record_event(db, clock, "tier.changed", customer_id=f"cus_{i}") for i in range(3)]
    receiver.script = [500, 500, 200]
    deliver(db, node_secrets, clock.now(), receiver, policy=RetryPolicy(max_attempts=1))

    failed = operator.get("/api/v1/webhooks/deliveries", params={"status": "failed"}).json()
    assert [item["event_id"] for item in failed["items"]] == [events[1], events[0]]
    item = failed["items"][0]
    assert item["endpoint_id"] == hook["id"] and item["event_type"] == "tier.changed"
    assert (item["attempts"], item["last_error"], item["next_attempt_at"]) == (1, "HTTP 500", None)
    delivered = operator.get("/api/v1/webhooks/deliveries", params={"status": "delivered"})
    assert [i["event_id"] for i in delivered.json()["items"]] == [events[2]]

    clock.advance(timedelta(hours=1))
    path = f"/api/v1/webhooks/deliveries/{item['id']}/retry"
    retried = operator.post(path, key="retry-1")
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "pending" and retried.json()["attempts"] == 0
    assert retried.json()["next_attempt_at"] == isoformat(clock.now())
    assert operator.post(path, key="retry-1").json() == retried.json()
    again = operator.post(path, key="retry-2")
    assert again.status_code == 409 and error_of(again)["code"] == "delivery_not_failed"

    report = deliver(db, node_secrets, clock.now(), receiver)
    assert (report.attempted, report.delivered) == (1, 1)
    assert receiver.requests[-1].headers["webhook-id"] == events[1]
    pending = operator.get("/api/v1/webhooks/deliveries", params={"status": "pending"})
    assert pending.json() == {"items": [], "next_cursor": None}


def test_deliveries_page_and_refuse_bad_queries(
    operator: Operator,
    db: Database,
    node_secrets: NodeSecrets,
    clock: ManualClock,
    receiver: Receiver,
) -> None:
    add(operator)
    events = [record_event(db, clock, "tier.changed", customer_id=f"cus_{i}") for i in range(5)]
    deliver(db, node_secrets, clock.now(), receiver)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = operator.get("/api/v1/webhooks/deliveries", params=params).json()
        seen += [item["event_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == events[::-1]

    for params, status, field in [
        ({"status": "lost"}, 422, "status"),
        ({"limit": "0"}, 422, "limit"),
        ({"limit": "501"}, 422, "limit"),
        ({"colour": "red"}, 422, "colour"),
        ({"cursor": "zz"}, 400, "cursor"),
    ]:
        response = operator.get("/api/v1/webhooks/deliveries", params=params)
        assert response.status_code == status, (params, response.text)
        assert error_of(response)["field"] == field


def test_retrying_an_unknown_or_disabled_delivery(
    operator: Operator,
    db: Database,
    node_secrets: NodeSecrets,
    clock: ManualClock,
    receiver: Receiver,
) -> None:
    for bad in ("dlv_999", "dlv_0", "17", "dlv_x"):
        response = operator.post(f"/api/v1/webhooks/deliveries/{bad}/retry")
        assert response.status_code == 404, bad
    hook = add(operator).json()
    record_event(db, clock, "tier.changed", customer_id="cus_1")
    receiver.default = 500
    deliver(db, node_secrets, clock.now(), receiver, policy=RetryPolicy(max_attempts=1))
    [failed] = operator.get("/api/v1/webhooks/deliveries").json()["items"]
    operator.client.delete(
        f"/api/v1/webhooks/{hook['id']}", headers={**operator.auth, "Idempotency-Key": "d"}
    )
    response = operator.post(f"/api/v1/webhooks/deliveries/{failed['id']}/retry")
    assert response.status_code == 409 and error_of(response)["code"] == "webhook_disabled"


def test_an_enrolment_through_the_api_reaches_a_subscribed_receiver(
    operator: Operator,
    db: Database,
    node_secrets: NodeSecrets,
    clock: ManualClock,
    receiver: Receiver,
) -> None:
    hook = add(operator, events=["customer.enrolled"]).json()
    customer = operator.enrol(name="Ann Example", email="ann@example.com")
    report = deliver(db, node_secrets, clock.now(), receiver)
    assert report.delivered == 1
    [body] = receiver.bodies()
    assert body["type"] == "customer.enrolled" and body["data"] == {"customer_id": customer}
    assert b"Ann" not in receiver.requests[0].content  # ids only, never personal data
    assert deliveries(db, endpoint_id=hook["id"])[0]["status"] == "delivered"
