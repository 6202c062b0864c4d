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

import json
import logging
import random as _random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlmodel import Session

from node.db import Database
from node.services.federation import Federation, from_unix, unix
from node.services.inbox import new_message_id
from node.store import federation as store
from protocol import (
    MESSAGE_TYPES,
    Answer,
    Message,
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
    now: datetime,
    answer_handlers: dict[str, AnswerHandler],
    limit: int = 100,
    random: Callable[[], float] = _random.random,
) -> DeliveryReport:
    """Send up to ``limit`` due messages once each and apply their answers."""
    from starlette.concurrency import run_in_threadpool

    def claim(session: Session) -> list[store.OutboxRow]:
        store.mark_unresolved(session=session, node_id=fed.node_id, now=now)
        return store.claim_due(session=session, now=now, lease_until=now + LEASE, limit=limit)

    rows = await db.write_async(claim)
    if not rows:
        return DeliveryReport(0, 0, 0)
    manifest = await run_in_threadpool(fed.manifest, db)
    answered = retrying = 0
    for row in rows:
        error = None
        answer: Message | None = None
        member = manifest.member(row.destination)
        if member is None:
            error = "destination not in the manifest"
        else:
            try:
                response = await client.post(
                    member.endpoint.rstrip("/") + INBOX_PATH,
                    content=row.token.encode(),
                    headers={"Content-Type": MEDIA_TYPE, "Accept": MEDIA_TYPE},
                )
                if response.status_code != 200:
                    error = f"HTTP {response.status_code} {_error_code(response)}"
                else:
                    answer = verify_message(
                        response.content, manifest=manifest, receiver=fed.node_id, now=unix(now)
                    )
            except httpx.HTTPError as exc:
                error = type(exc).__name__
            except VerificationError as exc:
                error = f"answer refused: {exc.code}"
        request = request_of(row.token)
        if answer is not None:
            body = answer.body
            if not isinstance(body, Answer) or not answer_matches(
                body, request_id=row.message_id, request=request
            ):
                error, answer = "answer does not match the request", None
        if answer is not None and isinstance(answer.body, Answer):
            received = ReceivedAnswer(row.message_id, request, answer.body, response.text)
            await db.write_async(_apply_unit(fed, row, received, now, answer_handlers))
            answered += 1
            continue
        assert error is not None
        await db.write_async(
            _retry_unit(row.message_id, now + backoff(row.attempts, random=random), error)
        )
        retrying += 1
    return DeliveryReport(len(rows), answered, retrying)


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
