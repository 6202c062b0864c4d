"""SQL for engagement: reported actions and challenge progress."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache

from sqlmodel import Session

from node.store.sql import RawSQL, raw


def count_actions(*, session: Session, customer_id: str, action_type: str, period_key: str) -> int:
    row = raw(session).one(
        "SELECT COUNT(*) FROM customer_action WHERE customer_id = ? AND action_type = ?"
        " AND period_key = ?",
        (customer_id, action_type, period_key),
    )
    return int(row[0]) if row else 0


def insert_action(
    *,
    session: Session,
    public_id: str,
    customer_id: str,
    action_type: str,
    period_key: str,
    occurred_at: datetime,
    reference: str | None,
    points: int,
    transaction_id: int,
    now: datetime,
) -> None:
    sql = raw(session)
    sql.execute(
        "INSERT INTO customer_action (public_id, customer_id, action_type, period_key,"
        " occurred_at, reference, points, transaction_id, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            public_id,
            customer_id,
            action_type,
            period_key,
            sql.time(occurred_at),
            reference,
            points,
            transaction_id,
            sql.time(now),
        ),
    )


def add_progress(
    *, session: Session, customer_id: str, challenge: str, step: int, now: datetime
) -> tuple[int, bool]:
    """Add ``step`` to the member's progress (row locked till the end); (progress, completed)."""
    sql = raw(session)
    row = sql.one(
        "INSERT INTO challenge_progress (customer_id, challenge, progress, updated_at)"
        " VALUES (?, ?, ?, ?) ON CONFLICT (customer_id, challenge) DO UPDATE SET"
        " progress = challenge_progress.progress + excluded.progress,"
        " updated_at = excluded.updated_at RETURNING progress, completed_at",
        (customer_id, challenge, step, sql.time(now)),
    )
    assert row is not None
    return int(row[0]), row[1] is not None


@lru_cache(maxsize=16)
def progress_upsert(count: int) -> str:
    """The upsert of ``count`` challenges' progress, returning each one's
    (challenge, progress, completed_at); four placeholders per challenge, see
    :func:`progress_params`."""
    values = ", ".join(["(?, ?, ?, ?)"] * count)
    return (
        "INSERT INTO challenge_progress (customer_id, challenge, progress, updated_at)"
        f" VALUES {values} ON CONFLICT (customer_id, challenge) DO UPDATE SET"
        " progress = challenge_progress.progress + excluded.progress,"
        " updated_at = excluded.updated_at RETURNING challenge, progress, completed_at"
    )


def progress_params(
    sql: RawSQL, customer_id: str, steps: Sequence[tuple[str, int]], now: datetime
) -> list[object]:
    stamp = sql.time(now)
    params: list[object] = []
    for challenge, step in steps:
        params += [customer_id, challenge, step, stamp]
    return params


def add_progress_many(
    *, session: Session, customer_id: str, steps: Sequence[tuple[str, int]], now: datetime
) -> dict[str, tuple[int, bool]]:
    """:func:`add_progress` for several challenges in one statement (a purchase counts
    for every running challenge): challenge -> (progress, completed)."""
    if not steps:
        return {}
    sql = raw(session)
    rows = sql.execute(
        progress_upsert(len(steps)), tuple(progress_params(sql, customer_id, steps, now))
    ).fetchall()
    return {str(row[0]): (int(row[1]), row[2] is not None) for row in rows}


def mark_completed(
    *, session: Session, customer_id: str, challenge: str, transaction_id: int, now: datetime
) -> bool:
    """Record the completion once; False when it was already recorded."""
    sql = raw(session)
    row = sql.one(
        "UPDATE challenge_progress SET completed_at = ?, transaction_id = ?"
        " WHERE customer_id = ? AND challenge = ? AND completed_at IS NULL RETURNING challenge",
        (sql.time(now), transaction_id, customer_id, challenge),
    )
    return row is not None


def add_category(*, session: Session, customer_id: str, challenge: str, category: str) -> bool:
    """True when ``category`` is new for this member and challenge."""
    row = raw(session).one(
        "INSERT INTO challenge_category (customer_id, challenge, category) VALUES (?, ?, ?)"
        " ON CONFLICT DO NOTHING RETURNING category",
        (customer_id, challenge, category),
    )
    return row is not None


def progress_of(*, session: Session, customer_id: str) -> dict[str, tuple[int, datetime | None]]:
    """(progress, completed at) per challenge code for one member."""
    sql = raw(session)
    rows = sql.all(
        "SELECT challenge, progress, completed_at FROM challenge_progress WHERE customer_id = ?",
        (customer_id,),
    )
    return {
        str(r[0]): (int(r[1]), sql.parse_time(r[2]) if r[2] is not None else None) for r in rows
    }
