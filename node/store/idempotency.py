"""SQL for stored answers to idempotent writes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from node.store.sql import raw


@dataclass(frozen=True)
class StoredAnswer:
    operation: str
    request_digest: str
    status_code: int
    response: str


def find_answer(*, session: Session, key: str) -> StoredAnswer | None:
    row = raw(session).one(
        "SELECT operation, request_digest, status_code, response FROM idempotency_record"
        " WHERE key = ?",
        (key,),
    )
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
    sql = raw(session)
    sql.execute(
        "INSERT INTO idempotency_record (key, operation, request_digest, status_code, response,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?)",
        (key, operation, request_digest, status_code, response, sql.time(now)),
    )
