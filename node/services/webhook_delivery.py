"""Sending program events to webhook endpoints: fan-out, signing, retries.

The design, in the order an event travels:

1. **Outbox.** A change that has something to announce writes a
   ``webhook_event`` row in its own transaction
   (node.services.events.record_event_txn). If the change rolls back, so does
   the event; nothing is sent from inside a request.
2. **Fan-out.** :func:`fan_out_events` takes events not yet fanned out and
   writes one ``webhook_delivery`` row per enabled endpoint subscribed to the
   event's type (and added no later than the event), then sets
   ``fanned_out``. The pair (event, endpoint) is unique and inserted with
   ``ON CONFLICT DO NOTHING``, so a second fan-out, or two at once, changes
   nothing.
3. **Claim.** :func:`deliver_webhooks` claims due deliveries (``pending``,
   ``next_attempt_at <= now``, endpoint enabled) in one short transaction and
   leases them: ``next_attempt_at`` moves past the longest this run can take
   (at least :data:`LEASE`), so no other run takes them while this one
   sends. On PostgreSQL the claim reads with ``FOR UPDATE SKIP LOCKED``, so
   several node processes claiming at the same moment each take different
   rows and never wait on each other. If the process dies while sending, the
   lease runs out and the delivery is sent again: delivery is at least once,
   and ``webhook-id`` (the event id) lets the receiver drop a repeat.
4. **Send.** Outside any transaction, each claimed delivery is POSTed with a
   short timeout (:data:`SEND_TIMEOUT` for the whole exchange), at most
   :data:`CONCURRENCY` at a time, signed per the Standard Webhooks
   specification. The answer's body is never read.
5. **Record.** A 2xx marks it ``delivered``. Anything else (another status, a
   timeout, a refused connection) counts an attempt and stores a short
   ``last_error`` (``HTTP 503``, ``ConnectTimeout``), never the response
   body; the next attempt waits a backoff with full jitter
   (``random() * min(cap, base * 2 ** (attempts - 1))``), and after
   ``max_attempts`` the delivery is ``failed``. The outcome is written only
   if the lease still holds (compare-and-set on ``attempts`` and
   ``next_attempt_at``). All of this state is in the database, so retries
   survive restarts.

Signing (https://www.standardwebhooks.com): headers ``webhook-id`` (the
event id ``evt_...``, the same on every attempt and to every endpoint),
``webhook-timestamp`` (unix seconds of the attempt) and ``webhook-signature``:
``v1,<base64 HMAC-SHA256 over "{id}.{timestamp}.{body}">``, one per active
secret, separated by spaces. The body is
``{"id", "type", "created_at", "data"}``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import random as _random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlmodel import Session

from node.clock import isoformat
from node.db import Database
from node.secrets import NodeSecrets
from node.services.webhooks import unseal_secrets
from node.store import webhooks as store

log = logging.getLogger("konsort.webhooks")

SEND_TIMEOUT = 10.0
CONCURRENCY = 8
LEASE = timedelta(minutes=5)
USER_AGENT = "Konsort-Webhooks/1"


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter; the defaults span at most about 32.5 hours."""

    base_seconds: float = 30.0
    cap_seconds: float = 6 * 3600.0
    max_attempts: int = 15

    def delay(self, attempts: int, random: Callable[[], float]) -> timedelta:
        """The wait after the ``attempts``-th failed attempt (1 for the first)."""
        ceiling = min(self.cap_seconds, self.base_seconds * 2 ** (attempts - 1))
        return timedelta(seconds=random() * ceiling)

    def longest_span(self) -> timedelta:
        """First attempt to the last one when every wait is its longest."""
        waits = (
            min(self.cap_seconds, self.base_seconds * 2 ** (n - 1))
            for n in range(1, self.max_attempts)
        )
        return timedelta(seconds=sum(waits))


@dataclass(frozen=True)
class DeliveryReport:
    #: Events fanned out in this run.
    events: int
    #: Deliveries tried in this run; equal to ``limit`` means more may be due.
    attempted: int
    delivered: int
    #: Failed attempts that will be tried again.
    retrying: int
    #: Deliveries that used their last attempt in this run.
    failed: int


def sign(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """One Standard Webhooks signature: ``v1,<base64 HMAC-SHA256>``."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def event_body(claimed: store.ClaimedDelivery) -> bytes:
    document = {
        "id": claimed.event_public_id,
        "type": claimed.event_type,
        "created_at": isoformat(claimed.event_created_at),
        "data": json.loads(claimed.payload),
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def fan_out_events(db: Database, *, now: datetime, limit: int = 500) -> int:
    """Queue a delivery per subscribed endpoint for events not yet fanned out."""
    total = 0
    while True:

        def unit(session: Session) -> int:
            return _fan_out_txn(session=session, now=now, limit=limit)

        done = db.write(unit)
        total += done
        if done < limit:
            return total


def _fan_out_txn(*, session: Session, now: datetime, limit: int) -> int:
    events = store.events_to_fan_out(session=session, limit=limit)
    if not events:
        return 0
    endpoints = [
        (row.id, set(json.loads(row.events)), row.created_at)
        for row in store.endpoints(session=session, enabled_only=True)
    ]
    pairs = [
        (event.id, endpoint_id)
        for event in events
        for endpoint_id, types, created_at in endpoints
        if event.type in types and created_at <= event.created_at
    ]
    store.insert_deliveries(session=session, pairs=pairs, now=now)
    store.mark_fanned_out(session=session, event_ids=[event.id for event in events])
    return len(events)


async def deliver_webhooks(
    db: Database,
    secrets: NodeSecrets,
    *,
    client: httpx.AsyncClient,
    now: datetime,
    limit: int = 100,
    policy: RetryPolicy = RetryPolicy(),  # noqa: B008 - frozen, never mutated
    random: Callable[[], float] = _random.random,
    timeout: float = SEND_TIMEOUT,
) -> DeliveryReport:
    """Fan out new events, then send up to ``limit`` due deliveries once each.

    ``client`` is the caller's (one per job, so connections are reused; tests
    pass an ``httpx.MockTransport``); ``random`` draws the jitter in [0, 1);
    ``timeout`` caps each attempt, in seconds.
    """

    def fan_out(session: Session) -> int:
        return _fan_out_txn(session=session, now=now, limit=500)

    events = await db.write_async(fan_out)

    # The lease outlasts the slowest possible run, so no other run takes a delivery
    # this one has not tried yet.
    rounds = -(-limit // CONCURRENCY) + 1
    lease = max(LEASE, timedelta(seconds=timeout * rounds))

    def claim(session: Session) -> list[store.ClaimedDelivery]:
        return store.claim_due(session=session, now=now, lease_until=now + lease, limit=limit)

    claimed = await db.write_async(claim)
    if not claimed:
        return DeliveryReport(events, 0, 0, 0, 0)
    gate = asyncio.Semaphore(CONCURRENCY)

    async def attempt(delivery: store.ClaimedDelivery) -> str | None:
        async with gate:
            return await _send(secrets, client, delivery, now, timeout)

    errors = await asyncio.gather(*(attempt(delivery) for delivery in claimed))
    outcomes = list(zip(claimed, errors, strict=True))

    def record(session: Session) -> tuple[int, int, int]:
        delivered = retrying = failed = 0
        for delivery, error in outcomes:
            attempts = delivery.attempts + 1
            if error is None:
                status, due, delivered_at = store.DELIVERED, now, now
            elif attempts >= policy.max_attempts:
                status, due, delivered_at = store.FAILED, now, None
            else:
                status, due, delivered_at = (
                    store.PENDING,
                    now + policy.delay(attempts, random),
                    None,
                )
            if not store.record_attempt(
                session=session,
                claimed=delivery,
                status=status,
                next_attempt_at=due,
                last_error=error,
                delivered_at=delivered_at,
            ):
                continue  # the endpoint was disabled, or the lease ran out meanwhile
            delivered += status == store.DELIVERED
            retrying += status == store.PENDING
            failed += status == store.FAILED
        return delivered, retrying, failed

    delivered, retrying, failed = await db.write_async(record)
    return DeliveryReport(events, len(claimed), delivered, retrying, failed)


async def _send(
    secrets: NodeSecrets,
    client: httpx.AsyncClient,
    delivery: store.ClaimedDelivery,
    now: datetime,
    timeout: float,
) -> str | None:
    """POST one delivery; None on a 2xx answer, else a short error text."""
    body = event_body(delivery)
    timestamp = int(now.timestamp())
    keys = unseal_secrets(secrets, delivery.endpoint_id, delivery.secret).active(now)
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": delivery.event_public_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            sign(key, delivery.event_public_id, timestamp, body) for key in keys
        ),
    }
    try:
        async with asyncio.timeout(timeout):  # for the whole exchange, however slow
            async with client.stream(
                "POST", delivery.url, content=body, headers=headers, timeout=timeout
            ) as response:
                status = response.status_code
    except Exception as exc:  # any failure to get an answer counts as a failed attempt
        error = type(exc).__name__
    else:
        if 200 <= status < 300:
            return None
        error = f"HTTP {status}"
    log.info(
        "webhook attempt failed",
        extra={
            "delivery": f"dlv_{delivery.id}",
            "endpoint": delivery.endpoint_id,
            "attempt": delivery.attempts + 1,
            "error": error,
        },
    )
    return error
