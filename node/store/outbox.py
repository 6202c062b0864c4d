"""SQL for the operator's view of the outbox: unanswered messages per partner,
making one due now, and cancelling one that was never sent.

Delivery itself (claim, lease, answer, retry) is in node.store.federation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from node.store.sql import raw


@dataclass(frozen=True)
class QueuedMessage:
    message_id: str
    destination: str
    message_type: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    expires_at: datetime
    token: str
    #: A worker took it to send before: it may have reached the partner.
    handed_out: bool = False


_COLUMNS = (
    "message_id, destination, message_type, status, attempts, next_attempt_at, last_error,"
    " created_at, expires_at, token, handed_out_at"
)


def _queued(session: Session, row: tuple[object, ...]) -> QueuedMessage:
    sql = raw(session)
    return QueuedMessage(
        str(row[0]),
        str(row[1]),
        str(row[2]),
        str(row[3]),
        int(str(row[4])),
        sql.parse_time(row[5]),
        str(row[6]) if row[6] is not None else None,
        sql.parse_time(row[7]),
        sql.parse_time(row[8]),
        str(row[9]),
        row[10] is not None,
    )


def unanswered(*, session: Session, limit: int) -> list[QueuedMessage]:
    """Messages still waiting for their answer, by partner, oldest first."""
    rows = raw(session).all(
        f"SELECT {_COLUMNS} FROM outbox_message WHERE status = 'pending'"
        " ORDER BY destination, id LIMIT ?",
        (limit,),
    )
    return [_queued(session, row) for row in rows]


def queued_message(*, session: Session, message_id: str) -> QueuedMessage | None:
    row = raw(session).one(
        f"SELECT {_COLUMNS} FROM outbox_message WHERE message_id = ?", (message_id,)
    )
    return _queued(session, row) if row is not None else None


def make_due(*, session: Session, message_id: str, now: datetime) -> bool:
    """An unanswered message goes out on the next delivery round; False if answered."""
    sql = raw(session)
    row = sql.one(
        "UPDATE outbox_message SET next_attempt_at = ? WHERE message_id = ?"
        " AND status = 'pending' RETURNING id",
        (sql.time(now), message_id),
    )
    return row is not None


def cancel_unsent(*, session: Session, message_id: str, now: datetime) -> bool:
    """Mark a message cancelled if it was never sent and no worker holds it now
    (never attempted, never handed to a worker, and not leased: its next attempt
    is due). One conditional
    UPDATE, so a worker claiming it at the same moment either wins or finds it
    cancelled."""
    sql = raw(session)
    row = sql.one(
        "UPDATE outbox_message SET status = 'cancelled', last_error = 'cancelled by the operator'"
        " WHERE message_id = ? AND status = 'pending' AND attempts = 0"
        " AND handed_out_at IS NULL AND next_attempt_at <= ?"
        " RETURNING id",
        (message_id, sql.time(now)),
    )
    return row is not None
