"""Delivering events: fan-out, Standard Webhooks signatures, retries, failure, leases."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import threading
from datetime import datetime, timedelta

import httpx
import pytest

from node.clock import ManualClock, isoformat
from node.db import Database
from node.secrets import NodeSecrets
from node.services import webhooks
from node.services.webhook_delivery import RetryPolicy, fan_out_events
from tests.node.webhooks.conftest import (
    Receiver,
    add_webhook,
    deliver,
    deliveries,
    record_event,
)

URL = "https://hooks.example/konsort"


def verify(secret: str, request: httpx.Request) -> list[bool]:
    """An independent Standard Webhooks check: one flag per signature in the header."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = (
        f"{request.headers['webhook-id']}.{request.headers['webhook-timestamp']}.".encode()
        + request.content
    )
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    found = []
    for part in request.headers["webhook-signature"].split(" "):
        version, _, signature = part.partition(",")
        found.append(version == "v1" and hmac.compare_digest(signature, expected))
    return found


def test_a_delivery_is_signed_as_standard_webhooks_says(
    db: Database, node_secrets: NodeSecrets, clock: ManualClock, receiver: Receiver
) -> None:
    endpoint, secret = add_webhook(db, node_secrets, clock)
    event = record_event(db, clock, "tier.changed", customer_id="cus_1", to_tier="gold")
    clock.advance(timedelta(seconds=90))

    report = deliver(db, node_secrets, clock.now(), receiver)

    assert (report.events, report.attempted, report.delivered) == (1, 1, 1)
    [request] = receiver.requests
    assert request.method == "POST" and str(request.url) == URL
    assert request.headers["content-type"] == "application/json"
    assert request.headers["webhook-id"] == event
    assert request.headers["webhook-timestamp"] == str(int(clock.now().timestamp()))
    assert verify(secret, request) == [True]
    assert json.loads(request.content) == {
        "id": event,
        "type": "tier.changed",
        "created_at": isoformat(clock.now() - timedelta(seconds=90)),
        "data": {"customer_id": "cus_1", "to_tier": "gold"},
    }
    [row] = deliveries(db)
    assert row["status"] == "delivered" and row["attempts"] == 1
    assert row["endpoint_id"] == endpoint and row["event_id"] == event
    assert row["delivered_at"] == isoformat(clock.now()) and row["next_attempt_at"] is None


def test_a_tampered_body_or_another_secret_does_not_verify(
    db: Database, node_secrets: NodeSecrets, clock: ManualClock, receiver: Receiver
) -> None:
    _, secret = add_webhook(db, node_secrets, clock)
    _, other = add_webhook(db, node_secrets, clock, url="https://other.example/")
    record_event(db, clock, "voucher.issued", customer_id="cus_1", voucher="V1")
    deliver(db, node_secrets, clock.now(), receiver)
    first = next(r for r in receiver.requests if str(r.url) == URL)
    assert verify(secret, first) == [True]
    assert verify(other, first) == [False]
    tampered = httpx.Request(
        "POST", URL, headers=first.headers, content=first.content.replace(b"V1", b"V2")
    )
    assert verify(secret, tampered) == [False]


def test_failed_attempts_back_off_exponentially_then_fail(
    db: Database, node_secrets: NodeSecrets, clock: ManualClock, receiver: Receiver
) -> None:
    add_webhook(db, node_secrets, clock)
    record_event(db, clock, "tier.changed", customer_id="cus_1")
    receiver.default = 503
    policy = RetryPolicy(base_seconds=30, cap_seconds=100, max_attempts=5)
    longest = lambda: 1.0  # noqa: E731 - the top of the jitter range, so waits are exact

    waits = []
    for attempt in range(1, 5):
        report = deliver(db, node_secrets, clock.now(), receiver, policy=policy, random=longest)
        assert (report.attempted, report.retrying) == (1, 1)
        [row] = deliveries(db)
        assert row["status"] == "pending" and row["attempts"] == attempt
        assert row["last_error"] == "HTTP 503"
        due = row["next_attempt_at"]
        wait = int((datetime.fromisoformat(due) - clock.now()).total_seconds())
        waits.append(wait)
        clock.advance(timedelta(seconds=wait - 1))
        assert deliver(db, node_secrets, clock.now(), receiver, policy=policy).attempted == 0
        clock.advance(timedelta(seconds=1))
    assert waits == [30, 60, 100, 100]  # doubling from 30 s, capped

    report = deliver(db, node_secrets, clock.now(), receiver, policy=policy, random=longest)
    assert (report.attempted, report.failed) == (1, 1)
    [row] = deliveries(db)
    assert row["status"] == "failed" and row["attempts"] == 5 and row["next_attempt_at"] is None
    clock.advance(timedelta(days=30))
    assert deliver(db, node_secrets, clock.now(), receiver, policy=policy).attempted == 0
    assert len(receiver.requests) == 5


def test_backoff_has_full_jitter_and_the_default_policy_spans_about_32_hours() -> None:
    policy = RetryPolicy()
    assert policy.delay(1, lambda: 0.5) == timedelta(seconds=15)
    assert policy.delay(3, lambda: 0.25) == timedelta(seconds=30)
    assert policy.delay(14, lambda: 0.999) < timedelta(hours=6)
    assert policy.delay(4, lambda: 0.0) == timedelta(0)
    assert policy.max_attempts == 15
    assert policy.longest_span() == timedelta(seconds=117_090)  # 32 h 31 min 30 s


def test_a_later_success_delivers_and_clears_the_error(
    db: Database, node_secrets: NodeSecrets, clock: ManualClock, receiver: Receiver
) -> None:
    add_webhook(db, node_secrets, clock)
    record_event(db, clock, "customer.enrolled", customer_id="cus_1")
    receiver.script = [500, httpx.ConnectTimeout("no answer")]
    deliver(db, node_secrets, clock.now(), receiver, random=lambda: 1.0)
    assert deliveries(db)[0]["last_error"] == "HTTP 500"  # the status, never the body
    clock.advance(timedelta(seconds=30))
    deliver(db, node_secrets, clock.now(), receiver, random=lambda: 1.0)
    assert deliveries(db)[0]["last_error"] == "ConnectTimeout"
    clock.advance(timedelta(seconds=60))
    report = deliver(db, node_secrets, clock.now(), receiver, random=lambda: 1.0)
    assert report.delivered == 1
    [row] = deliveries(db)
    assert (row["status"], row["attempts"], row["last_error"]) == ("delivered", 3, None)
    ids = {request.headers["webhook-id"] for request in receiver.requests}
    assert len(ids) == 1  # every attempt carries the same webhook-id


def test_redirects_and_non_2xx_answers_are_failures(
    db: Database, node_secrets: NodeSecrets, clock: ManualClock, receiver: Receiver
) -> None:
    add_webhook(db, node_secrets, clock)
    record_event(db, clock, "customer.enrolled", customer_id="cus_1")
    receiver.script = [301]
    deliver(db, node_secrets, clock.now(), receiver)
    assert deliveries(db)[0]["last_error"] == "HTTP 301"
    assert len(receiver.requests) == 1


def test_fan_out_follows_subscriptions_and_runs_once(
    db: Database, node_secrets: NodeSecrets, clock: ManualClock, receiver: Receiver
) -> None:
    everything, _ = add_webhook(db, node_secrets, clock)
    tiers, _ = add_webhook(
        db, node_secrets, clock, url="https://t.example/", events=["tier.changed"]
    )
    record_event(db, clock, "tier.changed", customer_id="cus_1")
    record_event(db, clock, "voucher.issued", customer_id="cus_1")

    assert fan_out_events(db, now=clock.now()) == 2
    assert fan_out_events(db, now=clock.now()) == 0
    rows = deliveries(db)
    assert sorted((r["endpoint_id"], r["event_type"]) for r in rows) == sorted(
        [(everything, "tier.changed"), (everything, "voucher.issued"), (tiers, "tier.changed")]
    )

    late, _ = add_webhook(db, node_secrets, clock, url="https://late.example/")
    record_event(db, clock, "points.expiring", customer_id="cus_1", points=5)
    deliver(db, node_secrets, clock.now(), receiver)
    assert len(deliveries(db)) == 5  # the late endpoint gets only the event after it
    assert [b["type"] for b in receiver.sent_to("https://late.example/")] == ["points.expiring"]
    assert len(deliveries(db, endpoint_id=late)) == 1


def test_a_disabled_endpoint_gets_nothing(
    db: Database, node_secrets: NodeSecrets, clock: ManualClock, receiver: Receiver
) -> None:
    kept, _ = add_webhook(db, node_secrets, clock)
    dropped, _ = add_webhook(db, node_secrets, clock, url="https://dropped.example/")
    record_event(db, clock, "tier.changed", customer_id="cus_1")
    fan_out_events(db, now=clock.now())  # a pending delivery for each
    answer = asyncio.run(
        webhooks.disable_endpoint(db, endpoint_id=dropped, idempotency_key="d1", now=clock.now())
    )
    assert answer.body["cancelled_deliveries"] == 1
    record_event(db, clock, "tier.changed", customer_id="cus_2")

    deliver(db, node_secrets, clock.now(), receiver)

    assert receiver.sent_to("https://dropped.example/") == []
    assert len(receiver.sent_to(URL)) == 2
    [cancelled] = deliveries(db, endpoint_id=dropped)
    assert cancelled["status"] == "cancelled" and cancelled["last_error"] == "endpoint disabled"
    assert len(deliveries(db, endpoint_id=kept, status="delivered")) == 2


def test_retry_state_survives_a_restart(
    database_url: str, node_secrets: NodeSecrets, clock: ManualClock, receiver: Receiver
) -> None:
    first = Database(database_url)
    add_webhook(first, node_secrets, clock)
    record_event(first, clock, "tier.changed", customer_id="cus_1")
    receiver.default = 502
    deliver(first, node_secrets, clock.now(), receiver, random=lambda: 1.0)
    first.dispose()

    second = Database(database_url)
    try:
        receiver.default = 204
        assert deliver(second, node_secrets, clock.now(), receiver).attempted == 0
        clock.advance(timedelta(seconds=30))
        assert deliver(second, node_secrets, clock.now(), receiver).delivered == 1
        [row] = deliveries(second)
        assert row["status"] == "delivered" and row["attempts"] == 2
    finally:
        second.dispose()


def test_a_crash_while_sending_resends_after_the_lease(
    db: Database, node_secrets: NodeSecrets, clock: ManualClock, receiver: Receiver
) -> None:
    add_webhook(db, node_secrets, clock)
    record_event(db, clock, "tier.changed", customer_id="cus_1")
    receiver.script = [asyncio.CancelledError()]  # the run dies before it records anything
    with pytest.raises(asyncio.CancelledError):
        deliver(db, node_secrets, clock.now(), receiver)
    [row] = deliveries(db)
    assert row["status"] == "pending" and row["attempts"] == 0

    assert deliver(db, node_secrets, clock.now(), receiver).attempted == 0  # leased
    clock.advance(timedelta(minutes=5))
    assert deliver(db, node_secrets, clock.now(), receiver).delivered == 1
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1


def test_concurrent_runs_send_each_delivery_once(
    database_url: str,
    db: Database,
    node_secrets: NodeSecrets,
    clock: ManualClock,
    receiver: Receiver,
) -> None:
    add_webhook(db, node_secrets, clock)
    events = [record_event(db, clock, "tier.changed", customer_id=f"cus_{i}") for i in range(40)]
    fan_out_events(db, now=clock.now())  # 40 deliveries due; three runs of 15 can take them all
    lock = threading.Lock()
    barrier = threading.Barrier(3)
    reports = []

    def guarded(request: httpx.Request) -> httpx.Response:
        with lock:
            return receiver(request)

    def run() -> None:
        own = Database(database_url)
        try:
            barrier.wait()
            reports.append(deliver(own, node_secrets, clock.now(), guarded, limit=15))
        finally:
            own.dispose()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    sent = [request.headers["webhook-id"] for request in receiver.requests]
    assert sorted(sent) == sorted(events)  # all 40, none twice
    assert sorted(report.delivered for report in reports) == [10, 15, 15]


def test_a_rotated_secret_overlaps_with_the_old_one_for_a_day(
    db: Database, node_secrets: NodeSecrets, clock: ManualClock, receiver: Receiver
) -> None:
    endpoint, old = add_webhook(db, node_secrets, clock)
    rotated = asyncio.run(
        webhooks.rotate_secret(
            db, node_secrets, endpoint_id=endpoint, idempotency_key="r1", now=clock.now()
        )
    )
    new = rotated.body["secret"]
    assert new != old
    record_event(db, clock, "tier.changed", customer_id="cus_1")
    deliver(db, node_secrets, clock.now(), receiver)
    assert verify(new, receiver.requests[0]) == [True, False]
    assert verify(old, receiver.requests[0]) == [False, True]

    clock.advance(timedelta(hours=24))
    record_event(db, clock, "tier.changed", customer_id="cus_2")
    deliver(db, node_secrets, clock.now(), receiver)
    assert verify(new, receiver.requests[1]) == [True]


def test_a_receiver_that_never_answers_times_out(
    db: Database, node_secrets: NodeSecrets, clock: ManualClock
) -> None:
    add_webhook(db, node_secrets, clock)
    record_event(db, clock, "tier.changed", customer_id="cus_1")

    async def stall(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200)

    report = deliver(db, node_secrets, clock.now(), stall, timeout=0.05)
    assert report.retrying == 1
    assert deliveries(db)[0]["last_error"] == "TimeoutError"
