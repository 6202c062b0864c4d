"""Exactly-once writes: the same Idempotency-Key gets the same answer, once.

A write runs inside one transaction together with the row that stores its
answer. A retry with the same key finds that row and gets the stored answer
back without running again; the same key with a different request (or for a
different operation) is refused with 409. Two requests racing with one key
meet at the primary key of ``idempotency_record``: the loser rolls back and
replays the winner's answer.

Refused requests (4xx) are not stored: they changed nothing, so the key stays
free and the till may retry once the cause is gone (say, after an earn).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from node.db import Database
from node.errors import IdempotencyConflict
from node.store import idempotency as store


@dataclass(frozen=True)
class Answer:
    status_code: int
    body: dict[str, Any]
    replayed: bool = False
    #: The body as stored (compact JSON), so it is encoded once per request.
    encoded: str | None = None


def request_digest(operation: str, request: dict[str, Any]) -> str:
    canonical = json.dumps(
        {"operation": operation, "request": request}, sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


Unit = Callable[[Session], Answer]


def idempotent_unit(
    *,
    key: str,
    operation: str,
    request: dict[str, Any],
    now: datetime,
    work: Unit,
) -> Unit:
    """Wrap ``work`` so it runs once per key; a repeat replays the stored answer."""
    digest = request_digest(operation, request)

    def unit(session: Session) -> Answer:
        stored = store.find_answer(session=session, key=key)
        if stored is not None:
            if stored.operation != operation or stored.request_digest != digest:
                raise IdempotencyConflict(
                    "this Idempotency-Key was used for a different request",
                    field="Idempotency-Key",
                )
            return Answer(
                stored.status_code,
                json.loads(stored.response),
                replayed=True,
                encoded=stored.response,
            )
        answer = work(session)
        encoded = json.dumps(answer.body, separators=(",", ":"))
        store.insert_answer(
            session=session,
            key=key,
            operation=operation,
            request_digest=digest,
            status_code=answer.status_code,
            response=encoded,
            now=now,
        )
        return replace(answer, encoded=encoded)

    return unit


def run_idempotent(db: Database, unit: Unit) -> Answer:
    try:
        return db.write(unit)
    except IntegrityError:
        # A concurrent request with the same key committed first (its row now
        # exists); run once more to replay its answer.
        return db.write(unit)


async def run_idempotent_async(db: Database, unit: Unit) -> Answer:
    """As :func:`run_idempotent`, awaiting the write without holding a thread."""
    try:
        return await db.write_async(unit)
    except IntegrityError:
        return await db.write_async(unit)
