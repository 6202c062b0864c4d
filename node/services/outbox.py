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
  (``konsort federation status``, ``GET /api/v1/federation/status``), and in
  the admin UI may make one due now or cancel a transfer that was never sent
  (node.services.outbox_control).
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
    TransferBatch,
    TransferItem,
    TransferRequest,
    VerificationError,
    answer_matches,
    b64url_decode,
    sign_message,
    verify_message,
)
from protocol.messages import MAX_BATCH_TRANSFERS

log = logging.getLogger("konsort.federation")

MEDIA_TYPE = "application/jose"
INBOX_PATH = "/federation/v1/messages"
BASE_DELAY = 1.0
MAX_DELAY = 300.0
#: How long a claimed message is reserved for the worker that claimed it; longer
#: than one exchange (the HTTP client's timeout is 10 s).
LEASE = timedelta(seconds=30)


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
    """Send up to ``limit`` due messages once each and apply their answers: each
    partner's in queue order, different partners in parallel (at most
    ``concurrency`` exchanges at once)."""
    from starlette.concurrency import run_in_threadpool

    now = clock.now()

    def claim(session: Session) -> list[store.OutboxRow]:
        store.mark_unresolved(session=session, node_id=fed.node_id, now=now)
        rows = store.claim_due(session=session, now=now, lease_until=now + LEASE, limit=limit)
        sending = batch_transfers_txn(session=session, fed=fed, rows=rows, now=now)
        # Marked before any is sent: one that reaches the partner while this
        # process dies must never be folded into a batch or cancelled later.
        store.mark_handed_out(session=session, ids=[row.id for row in sending], now=now)
        return sending

    rows = await db.write_async(claim)
    if not rows:
        return DeliveryReport(0, 0, 0)
    manifest = await run_in_threadpool(fed.manifest, db)
    gate = asyncio.Semaphore(concurrency)
    by_destination: dict[str, list[store.OutboxRow]] = {}
    for row in rows:
        by_destination.setdefault(row.destination, []).append(row)

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

    async def in_order(queue: list[store.OutboxRow]) -> list[bool]:
        # One partner's messages go in the order they were queued (the first
        # redemption of the last unit gets it); partners are served in parallel.
        # After a failure the rest wait for the next round, untried, so a
        # partner that hangs costs one timeout per round, not one per message.
        results: list[bool] = []
        for index, row in enumerate(queue):
            done = await deliver(row)
            results.append(done)
            if not done:
                later = queue[index + 1 :]
                if later:
                    retry_at = clock.now() + backoff(row.attempts, random=random)
                    await db.write_async(_postpone_unit([r.message_id for r in later], retry_at))
                    results.extend(False for _ in later)
                break
        return results

    outcomes = [
        done
        for queue in await asyncio.gather(*(in_order(q) for q in by_destination.values()))
        for done in queue
    ]
    answered = sum(outcomes)
    retrying = len(rows) - answered
    return DeliveryReport(len(rows), answered, retrying)


def batch_transfers_txn(
    *, session: Session, fed: Federation, rows: list[store.OutboxRow], now: datetime
) -> list[store.OutboxRow]:
    """Fold never-sent transfer requests to one partner into ``transfer.batch`` messages.

    A request that was never sent may be replaced (nobody has seen it: never
    attempted and never handed to a worker, which a worker marks before it
    sends, since a process can die after the partner got a request and before
    its answer was recorded): up to
    100 of them to the same partner under the same manifest version become the
    items of one batch, each keeping its message id as its item id, so its
    operation's ref becomes ``<node>:<batch id>:<item>``. One signature, one
    delivery and one answer then carry them all; each item is still accepted or
    rejected on its own. A request already sent is always redelivered as it was.
    """
    groups: dict[tuple[str, int], list[tuple[store.OutboxRow, TransferRequest]]] = {}
    kept: list[store.OutboxRow] = []
    issued = unix(now)
    for row in rows:
        if row.message_type == "transfer.request" and row.attempts == 0 and not row.handed_out:
            request = request_of(row.token)
            assert isinstance(request, TransferRequest)
            if unix(row.expires_at) > issued + 60:
                groups.setdefault((row.destination, request.manifest_version), []).append(
                    (row, request)
                )
                continue
        kept.append(row)
    for (destination, version), members in groups.items():
        if len(members) == 1:
            kept.append(members[0][0])
            continue
        for start in range(0, len(members), MAX_BATCH_TRANSFERS):
            chunk = members[start : start + MAX_BATCH_TRANSFERS]
            kept.append(_fold_txn(session, fed, destination, version, chunk, now))
    return kept


def _fold_txn(
    session: Session,
    fed: Federation,
    destination: str,
    version: int,
    chunk: list[tuple[store.OutboxRow, TransferRequest]],
    now: datetime,
) -> store.OutboxRow:
    manifest = fed.require_manifest_txn(session=session)
    batch_id = new_message_id()
    issued = unix(now)
    expires = min(unix(row.expires_at) for row, _ in chunk)
    body = TransferBatch(
        manifest_version=version,
        transfers=[
            TransferItem(
                item=row.message_id,
                subject=request.subject,
                sender_points=request.sender_points,
                receiver_points=request.receiver_points,
                value_minor=request.value_minor,
                sender_kept_minor=request.sender_kept_minor,
            )
            for row, request in chunk
        ],
    )
    token = sign_message(
        body,
        signer=fed.signer(manifest, now=now),
        audience=destination,
        message_id=batch_id,
        issued_at=issued,
        expires_at=expires,
    )
    store.insert_outbox(
        session=session,
        message_id=batch_id,
        destination=destination,
        message_type=body.message_type,
        token=token,
        now=now,
        expires_at=from_unix(expires),
    )
    # Leased like the rows it replaces: another worker must not pick it up now.
    store.lease(session=session, message_id=batch_id, until=now + LEASE)
    store.mark_batched(
        session=session, message_ids=[row.message_id for row, _ in chunk], batch_id=batch_id
    )
    for row, _ in chunk:
        store.rename_operation(
            session=session,
            ref=f"{fed.node_id}:{row.message_id}",
            new_ref=f"{fed.node_id}:{batch_id}:{row.message_id}",
            request_iat=issued,
        )
    found = store.outbox_row(session=session, message_id=batch_id)
    assert found is not None
    return found


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


def _postpone_unit(message_ids: list[str], until: datetime) -> Callable[[Session], None]:
    def unit(session: Session) -> None:
        for message_id in message_ids:
            store.lease(session=session, message_id=message_id, until=until)

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
