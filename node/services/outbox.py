"""Sending protocol requests: written with their effect, delivered until answered.

The outbox is persistent and per destination, with its backoff stored:

- ``enqueue_txn`` signs a request and inserts an ``outbox_message`` row in the
  caller's transaction, the same one that debits the member into escrow (or
  records the link attempt). If that transaction rolls back, no message
  exists; if it commits, the message will be delivered.
- ``deliver_outbox`` (the federation job) claims due rows under a lease (on
  PostgreSQL ``FOR UPDATE SKIP LOCKED``, so several node processes never send
  one row at the same time), POSTs the *same* token to the destination's
  endpoint from the manifest, outside any transaction, and on an answer:
  verifies it, checks it answers this request (``in_reply_to``), and in one
  transaction applies it (the answer handler of the request type) and marks
  the row answered. A row is answered once; a late duplicate answer changes
  nothing.
- Failures (network, 5xx, refusals, bad answers) reschedule the row with
  exponential backoff and full jitter (1 s doubling to 5 minutes). There is
  no last attempt: the protocol needs the sender to keep delivering until it
  hears the one final outcome, and a receiver answers even a request past
  its ``exp`` (with ``expired``), so every message ends answered once its
  peer is reachable. Operators see pending and retrying messages per peer
  (``konsort federation status``, ``GET /api/v1/federation/status``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random as _random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlmodel import Session

from node.clock import Clock
from node.db import Database
from node.services.federation import Federation, from_unix, unix
from node.services.inbox import new_message_id
from node.store import federation as store
from protocol import (
    MESSAGE_TYPES,
    Answer,
    Manifest,
    Request,
    VerificationError,
    answer_matches,
    b64url_decode,
    sign_message,
    verify_message,
)

log = logging.getLogger("konsort.federation")

MEDIA_TYPE = "application/jose"
INBOX_PATH = "/federation/v1/messages"
BASE_DELAY = 1.0
MAX_DELAY = 300.0
LEASE = timedelta(seconds=60)


@dataclass(frozen=True)
class ReceivedAnswer:
    """An answer to one of our requests, verified and matched to it."""

    #: Our request's message id (its ref is ``<our node id>:<message_id>``).
    message_id: str
    request: Request
    answer: Answer
    #: The signed answer token as received (a receipt the member may download).
    token: str


#: Applies an answer in the transaction that marks the request answered.
AnswerHandler = Callable[[Session, Federation, ReceivedAnswer, datetime], None]


@dataclass(frozen=True)
class Enqueued:
    message_id: str
    issued_at: int
    expires_at: int


def enqueue_txn(
    *, session: Session, fed: Federation, body: Request, audience: str, now: datetime
) -> Enqueued:
    """Sign ``body`` to ``audience`` and queue it in the caller's transaction."""
    manifest = fed.require_manifest_txn(session=session)
    message_id = new_message_id()
    issued = unix(now)
    expires = issued + fed.message_ttl_seconds
    token = sign_message(
        body,
        signer=fed.signer(manifest, now=now),
        audience=audience,
        message_id=message_id,
        issued_at=issued,
        expires_at=expires,
    )
    store.insert_outbox(
        session=session,
        message_id=message_id,
        destination=audience,
        message_type=body.message_type,
        token=token,
        now=now,
        expires_at=from_unix(expires),
    )
    return Enqueued(message_id, issued, expires)


def request_of(token: str) -> Request:
    """The body of a request we signed (our own token, so no verification)."""
    claims = json.loads(b64url_decode(token.split(".")[1]))
    body = MESSAGE_TYPES[claims["typ"]].model_validate(claims["body"])
    assert isinstance(body, Request)
    return body


def backoff(attempts: int, *, random: Callable[[], float] = _random.random) -> timedelta:
    cap = min(MAX_DELAY, BASE_DELAY * 2 ** min(attempts, 20))
    return timedelta(seconds=max(0.05, cap * random()))


@dataclass(frozen=True)
class DeliveryReport:
    attempted: int
    answered: int
    retrying: int


async def deliver_outbox(
    db: Database,
    fed: Federation,
    *,
    client: httpx.AsyncClient,
    clock: Clock,
    answer_handlers: dict[str, AnswerHandler],
    limit: int = 100,
    concurrency: int = 32,
    random: Callable[[], float] = _random.random,
) -> DeliveryReport:
    """Send up to ``limit`` due messages once each (``concurrency`` at a time) and
    apply their answers."""
    from starlette.concurrency import run_in_threadpool

    now = clock.now()

    def claim(session: Session) -> list[store.OutboxRow]:
        store.mark_unresolved(session=session, node_id=fed.node_id, now=now)
        return store.claim_due(session=session, now=now, lease_until=now + LEASE, limit=limit)

    rows = await db.write_async(claim)
    if not rows:
        return DeliveryReport(0, 0, 0)
    manifest = await run_in_threadpool(fed.manifest, db)
    gate = asyncio.Semaphore(concurrency)

    async def deliver(row: store.OutboxRow) -> bool:
        """Send one message; True when its answer was applied."""
        async with gate:
            error, received = await _exchange(client, manifest, fed, row, now)
        done = clock.now()  # when the answer (or the failure) came, not when claimed
        if received is not None:
            try:
                await db.write_async(_apply_unit(fed, row, received, done, answer_handlers))
                return True
            except Exception:  # a bug or a gone member must not stop the other messages
                log.exception("answer could not be applied", extra={"peer": row.destination})
                error = "answer could not be applied (see the log)"
        await db.write_async(
            _retry_unit(row.message_id, done + backoff(row.attempts, random=random), error)
        )
        return False

    outcomes = await asyncio.gather(*(deliver(row) for row in rows))
    answered = sum(outcomes)
    retrying = len(rows) - answered
    return DeliveryReport(len(rows), answered, retrying)


async def _exchange(
    client: httpx.AsyncClient,
    manifest: Manifest,
    fed: Federation,
    row: store.OutboxRow,
    now: datetime,
) -> tuple[str, ReceivedAnswer | None]:
    """POST the token; the verified, matching answer, or why there is none."""
    member = manifest.member(row.destination)
    if member is None:
        return "destination not in the manifest", None
    try:
        response = await client.post(
            member.endpoint.rstrip("/") + INBOX_PATH,
            content=row.token.encode(),
            headers={"Content-Type": MEDIA_TYPE, "Accept": MEDIA_TYPE},
        )
    except httpx.HTTPError as exc:
        return type(exc).__name__, None
    if response.status_code != 200:
        return f"HTTP {response.status_code} {_error_code(response)}", None
    try:
        answer = verify_message(
            response.content, manifest=manifest, receiver=fed.node_id, now=unix(now)
        )
    except VerificationError as exc:
        return f"answer refused: {exc.code}", None
    request = request_of(row.token)
    body = answer.body
    if not isinstance(body, Answer) or not answer_matches(
        body, request_id=row.message_id, request=request
    ):
        return "answer does not match the request", None
    return "", ReceivedAnswer(row.message_id, request, body, response.text)


def _apply_unit(
    fed: Federation,
    row: store.OutboxRow,
    received: ReceivedAnswer,
    now: datetime,
    handlers: dict[str, AnswerHandler],
) -> Callable[[Session], None]:
    def unit(session: Session) -> None:
        if not store.mark_answered(
            session=session,
            message_id=row.message_id,
            outcome=received.answer.outcome,
            reason=received.answer.reason,
            now=now,
        ):
            return  # answered meanwhile (another process): nothing more to apply
        handler = handlers.get(row.message_type)
        if handler is not None:
            handler(session, fed, received, now)

    return unit


def _retry_unit(message_id: str, retry_at: datetime, error: str) -> Callable[[Session], None]:
    def unit(session: Session) -> None:
        store.schedule_retry(
            session=session, message_id=message_id, next_attempt_at=retry_at, error=error
        )

    return unit


def _error_code(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["code"])[:60]
    except (ValueError, KeyError, TypeError):
        return ""
