"""SQL for stored answers to idempotent writes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlmodel import Session

from node.store.models import IdempotencyRecord

record_t = IdempotencyRecord.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class StoredAnswer:
    operation: str
    request_digest: str
    status_code: int
    response: str


def find_answer(*, session: Session, key: str) -> StoredAnswer | None:
    row = session.execute(
        select(
            record_t.c.operation,
            record_t.c.request_digest,
            record_t.c.status_code,
            record_t.c.response,
        ).where(record_t.c.key == key)
    ).first()
    return StoredAnswer(row[0], row[1], int(row[2]), row[3]) if row else None


def insert_answer(
    *,
    session: Session,
    key: str,
    operation: str,
    request_digest: str,
    status_code: int,
    response: str,
    now: datetime,
) -> None:
    session.execute(
        insert(record_t).values(
            key=key,
            operation=operation,
            request_digest=request_digest,
            status_code=status_code,
            response=response,
            created_at=now,
        )
    )
