"""SQL for webhook endpoints, the event outbox and deliveries. No rules here.

Functions take a keyword-only ``session`` inside a transaction the caller owns.
Statement text uses ``?`` placeholders (node.store.sql); the few clauses that
differ between the databases (``FOR UPDATE SKIP LOCKED``) are added only on
PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from node.store.sql import RawSQL, raw

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"
CANCELLED = "cancelled"


@dataclass(frozen=True)
class EndpointRow:
    id: str
    url: str
    #: JSON list of event types.
    events: str
    secret: bytes
    enabled: bool
    created_at: datetime


@dataclass(frozen=True)
class DeliveryRow:
    id: int
    event_public_id: str
    event_type: str
    event_created_at: datetime
    endpoint_id: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    delivered_at: datetime | None


@dataclass(frozen=True)
class ClaimedDelivery:
    """A delivery taken for one attempt, with what it takes to send it."""

    id: int
    attempts: int
    #: The lease written at the claim; the outcome is recorded only if it still holds.
    lease_until: datetime
    endpoint_id: str
    url: str
    secret: bytes
    event_public_id: str
    event_type: str
    event_created_at: datetime
    payload: str


@dataclass(frozen=True)
class EventRow:
    id: int
    type: str
    created_at: datetime


_ENDPOINT_COLUMNS = "id, url, events, secret, enabled, created_at"


def _endpoint(sql: RawSQL, row: tuple[Any, ...]) -> EndpointRow:
    return EndpointRow(
        str(row[0]), str(row[1]), str(row[2]), bytes(row[3]), bool(row[4]), sql.parse_time(row[5])
    )


def insert_endpoint(
    *, session: Session, endpoint_id: str, url: str, events: str, secret: bytes, now: datetime
) -> None:
    sql = raw(session)
    sql.execute(
        "INSERT INTO webhook_endpoint (id, url, events, secret, enabled, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (endpoint_id, url, events, secret, True, sql.time(now)),
    )


def endpoint(*, session: Session, endpoint_id: str) -> EndpointRow | None:
    sql = raw(session)
    row = sql.one(f"SELECT {_ENDPOINT_COLUMNS} FROM webhook_endpoint WHERE id = ?", (endpoint_id,))
    return _endpoint(sql, row) if row else None


def lock_endpoint(*, session: Session, endpoint_id: str) -> EndpointRow | None:
    """The endpoint, with its row locked (PostgreSQL) until the transaction ends."""
    sql = raw(session)
    lock = "" if sql.is_sqlite else " FOR UPDATE"
    row = sql.one(
        f"SELECT {_ENDPOINT_COLUMNS} FROM webhook_endpoint WHERE id = ?{lock}", (endpoint_id,)
    )
    return _endpoint(sql, row) if row else None


def endpoints(*, session: Session, enabled_only: bool = False) -> list[EndpointRow]:
    """Endpoints in the order they were added."""
    sql = raw(session)
    where = " WHERE enabled = ?" if enabled_only else ""
    params: tuple[Any, ...] = (True,) if enabled_only else ()
    rows = sql.all(
        f"SELECT {_ENDPOINT_COLUMNS} FROM webhook_endpoint{where} ORDER BY created_at, id", params
    )
    return [_endpoint(sql, row) for row in rows]


def disable_endpoint(*, session: Session, endpoint_id: str) -> None:
    raw(session).execute(
        "UPDATE webhook_endpoint SET enabled = ? WHERE id = ?", (False, endpoint_id)
    )


def set_secret(*, session: Session, endpoint_id: str, secret: bytes) -> None:
    raw(session).execute(
        "UPDATE webhook_endpoint SET secret = ? WHERE id = ?", (secret, endpoint_id)
    )


def cancel_pending(*, session: Session, endpoint_id: str, reason: str) -> int:
    """Cancel an endpoint's pending deliveries; returns how many."""
    rows = raw(session).all(
        "UPDATE webhook_delivery SET status = ?, last_error = ?"
        " WHERE endpoint_id = ? AND status = ? RETURNING id",
        (CANCELLED, reason, endpoint_id, PENDING),
    )
    return len(rows)


# -- the outbox ---------------------------------------------------------------


def events_to_fan_out(*, session: Session, limit: int) -> list[EventRow]:
    """The oldest events not yet fanned out (locked, skipping locked ones, on PostgreSQL)."""
    sql = raw(session)
    lock = "" if sql.is_sqlite else " FOR UPDATE SKIP LOCKED"
    rows = sql.all(
        # "NOT fanned_out" as written in the partial index ix_webhook_event_pending.
        "SELECT id, type, created_at FROM webhook_event WHERE NOT fanned_out"
        f" ORDER BY id LIMIT ?{lock}",
        (limit,),
    )
    return [EventRow(int(r[0]), str(r[1]), sql.parse_time(r[2])) for r in rows]


def insert_deliveries(*, session: Session, pairs: Sequence[tuple[int, str]], now: datetime) -> int:
    """A pending delivery per (event id, endpoint id); existing pairs are left alone."""
    if not pairs:
        return 0
    sql = raw(session)
    stamp = sql.time(now)
    added = 0
    for start in range(0, len(pairs), 200):
        chunk = pairs[start : start + 200]
        values = ", ".join(["(?, ?, ?, 0, ?)"] * len(chunk))
        params: tuple[Any, ...] = ()
        for event_id, endpoint_id in chunk:
            params += (event_id, endpoint_id, PENDING, stamp)
        rows = sql.all(
            "INSERT INTO webhook_delivery (event_id, endpoint_id, status, attempts,"
            f" next_attempt_at) VALUES {values}"
            " ON CONFLICT (event_id, endpoint_id) DO NOTHING RETURNING id",
            params,
        )
        added += len(rows)
    return added


def mark_fanned_out(*, session: Session, event_ids: Sequence[int]) -> None:
    if not event_ids:
        return
    marks = ", ".join(["?"] * len(event_ids))
    raw(session).execute(
        f"UPDATE webhook_event SET fanned_out = ? WHERE id IN ({marks})", (True, *event_ids)
    )


# -- deliveries ---------------------------------------------------------------


def claim_due(
    *, session: Session, now: datetime, lease_until: datetime, limit: int
) -> list[ClaimedDelivery]:
    """Take the oldest due deliveries of enabled endpoints and lease them until ``lease_until``.

    On PostgreSQL the rows are locked with ``FOR UPDATE SKIP LOCKED``, so a
    second node process claiming at the same moment takes other rows; once
    this transaction commits, the lease keeps them out of every claim until
    it runs out.
    """
    sql = raw(session)
    lock = "" if sql.is_sqlite else " FOR UPDATE OF d SKIP LOCKED"
    rows = sql.all(
        "SELECT d.id, d.attempts, w.id, w.url, w.secret, e.public_id, e.type, e.created_at,"
        " e.payload FROM webhook_delivery d"
        " JOIN webhook_endpoint w ON w.id = d.endpoint_id"
        " JOIN webhook_event e ON e.id = d.event_id"
        " WHERE d.status = ? AND d.next_attempt_at <= ? AND w.enabled = ?"
        f" ORDER BY d.next_attempt_at, d.id LIMIT ?{lock}",
        (PENDING, sql.time(now), True, limit),
    )
    if not rows:
        return []
    marks = ", ".join(["?"] * len(rows))
    sql.execute(
        f"UPDATE webhook_delivery SET next_attempt_at = ? WHERE id IN ({marks})",
        (sql.time(lease_until), *(int(r[0]) for r in rows)),
    )
    return [
        ClaimedDelivery(
            id=int(r[0]),
            attempts=int(r[1]),
            lease_until=lease_until,
            endpoint_id=str(r[2]),
            url=str(r[3]),
            secret=bytes(r[4]),
            event_public_id=str(r[5]),
            event_type=str(r[6]),
            event_created_at=sql.parse_time(r[7]),
            payload=str(r[8]),
        )
        for r in rows
    ]


def record_attempt(
    *,
    session: Session,
    claimed: ClaimedDelivery,
    status: str,
    next_attempt_at: datetime,
    last_error: str | None,
    delivered_at: datetime | None,
) -> bool:
    """Write one attempt's outcome if the claim still holds (same lease, same attempts)."""
    sql = raw(session)
    changed = sql.one(
        "UPDATE webhook_delivery SET status = ?, attempts = attempts + 1, next_attempt_at = ?,"
        " last_error = ?, delivered_at = ?"
        " WHERE id = ? AND status = ? AND attempts = ? AND next_attempt_at = ? RETURNING id",
        (
            status,
            sql.time(next_attempt_at),
            last_error,
            sql.time(delivered_at),
            claimed.id,
            PENDING,
            claimed.attempts,
            sql.time(claimed.lease_until),
        ),
    )
    return changed is not None


_DELIVERY_COLUMNS = (
    "d.id, e.public_id, e.type, e.created_at, d.endpoint_id, d.status, d.attempts,"
    " d.next_attempt_at, d.last_error, d.delivered_at"
)


def _delivery(sql: RawSQL, r: tuple[Any, ...]) -> DeliveryRow:
    return DeliveryRow(
        id=int(r[0]),
        event_public_id=str(r[1]),
        event_type=str(r[2]),
        event_created_at=sql.parse_time(r[3]),
        endpoint_id=str(r[4]),
        status=str(r[5]),
        attempts=int(r[6]),
        next_attempt_at=sql.parse_time(r[7]),
        last_error=r[8],
        delivered_at=sql.parse_time(r[9]) if r[9] is not None else None,
    )


def delivery(*, session: Session, delivery_id: int) -> DeliveryRow | None:
    sql = raw(session)
    row = sql.one(
        f"SELECT {_DELIVERY_COLUMNS} FROM webhook_delivery d"
        " JOIN webhook_event e ON e.id = d.event_id WHERE d.id = ?",
        (delivery_id,),
    )
    return _delivery(sql, row) if row else None


def deliveries(
    *,
    session: Session,
    status: str | None,
    endpoint_id: str | None,
    before_id: int | None,
    limit: int,
) -> list[DeliveryRow]:
    """Deliveries newest first, keyset-paged by id."""
    sql = raw(session)
    conditions = ["d.id < ?"]
    params: list[Any] = [before_id if before_id is not None else 2**62]
    if status is not None:
        conditions.append("d.status = ?")
        params.append(status)
    if endpoint_id is not None:
        conditions.append("d.endpoint_id = ?")
        params.append(endpoint_id)
    rows = sql.all(
        f"SELECT {_DELIVERY_COLUMNS} FROM webhook_delivery d"
        " JOIN webhook_event e ON e.id = d.event_id"
        f" WHERE {' AND '.join(conditions)} ORDER BY d.id DESC LIMIT ?",
        (*params, limit),
    )
    return [_delivery(sql, row) for row in rows]


def requeue_failed(*, session: Session, delivery_id: int, now: datetime) -> bool:
    """Put a failed delivery back in line, due ``now``, with a fresh count of attempts."""
    sql = raw(session)
    changed = sql.one(
        "UPDATE webhook_delivery SET status = ?, attempts = 0, next_attempt_at = ?"
        " WHERE id = ? AND status = ? RETURNING id",
        (PENDING, sql.time(now), delivery_id, FAILED),
    )
    return changed is not None
