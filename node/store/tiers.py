"""SQL for members' tiers, tier history and the qualifying figures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from node.store.sql import RawSQL, raw


@dataclass(frozen=True)
class TierRow:
    customer_id: str
    tier: str
    since: datetime
    review_at: datetime
    grace_until: datetime | None


@dataclass(frozen=True)
class TierChangeRow:
    from_tier: str | None
    to_tier: str
    reason: str
    qualifying_value: int
    program_version: int
    created_at: datetime


def customer_tier(*, session: Session, customer_id: str) -> TierRow | None:
    sql = raw(session)
    row = sql.one(
        "SELECT customer_id, tier, since, review_at, grace_until FROM customer_tier"
        " WHERE customer_id = ?",
        (customer_id,),
    )
    return row_from_driver(sql, row) if row else None


def row_from_driver(sql: RawSQL, row: tuple[object, ...]) -> TierRow:
    return TierRow(
        str(row[0]),
        str(row[1]),
        sql.parse_time(row[2]),
        sql.parse_time(row[3]),
        sql.parse_time(row[4]) if row[4] is not None else None,
    )


def save_customer_tier(
    *,
    session: Session,
    customer_id: str,
    tier: str,
    since: datetime,
    review_at: datetime,
    grace_until: datetime | None,
    exists: bool,
) -> None:
    sql = raw(session)
    if exists:
        sql.execute(
            "UPDATE customer_tier SET tier = ?, since = ?, review_at = ?, grace_until = ?"
            " WHERE customer_id = ?",
            (tier, sql.time(since), sql.time(review_at), sql.time(grace_until), customer_id),
        )
    else:
        sql.execute(
            "INSERT INTO customer_tier (customer_id, tier, since, review_at, grace_until)"
            " VALUES (?, ?, ?, ?, ?)",
            (customer_id, tier, sql.time(since), sql.time(review_at), sql.time(grace_until)),
        )


def insert_tier_change(
    *,
    session: Session,
    customer_id: str,
    from_tier: str | None,
    to_tier: str,
    reason: str,
    qualifying_value: int,
    program_version: int,
    now: datetime,
) -> None:
    sql = raw(session)
    sql.execute(
        "INSERT INTO tier_change (customer_id, from_tier, to_tier, reason, qualifying_value,"
        " program_version, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            customer_id,
            from_tier,
            to_tier,
            reason,
            qualifying_value,
            program_version,
            sql.time(now),
        ),
    )


def tier_history(*, session: Session, customer_id: str, limit: int) -> list[TierChangeRow]:
    sql = raw(session)
    rows = sql.all(
        "SELECT from_tier, to_tier, reason, qualifying_value, program_version, created_at"
        " FROM tier_change WHERE customer_id = ? ORDER BY id DESC LIMIT ?",
        (customer_id, limit),
    )
    return [
        TierChangeRow(r[0], str(r[1]), str(r[2]), int(r[3]), int(r[4]), sql.parse_time(r[5]))
        for r in rows
    ]


def tier_at(*, session: Session, customer_id: str, moment: datetime) -> str | None:
    """The tier a member moved to last at or before ``moment`` (None: never moved)."""
    sql = raw(session)
    row = sql.one(
        "SELECT to_tier FROM tier_change WHERE customer_id = ? AND created_at <= ?"
        " ORDER BY id DESC LIMIT 1",
        (customer_id, sql.time(moment)),
    )
    return str(row[0]) if row else None


def qualifying_spend(*, session: Session, customer_id: str, since: datetime) -> int:
    """Net spend (amount minus refunds) of purchases made at or after ``since``."""
    sql = raw(session)
    row = sql.one(
        "SELECT coalesce(sum(amount - refunded_amount), 0) FROM purchase"
        " WHERE customer_id = ? AND occurred_at >= ?",
        (customer_id, sql.time(since)),
    )
    return int(row[0]) if row else 0


def qualifying_points(*, session: Session, customer_id: str, since: datetime) -> int:
    """Points earned (minus refunded) by purchases made at or after ``since``."""
    sql = raw(session)
    row = sql.one(
        "SELECT coalesce(sum(points - reversed_points), 0) FROM purchase"
        " WHERE customer_id = ? AND occurred_at >= ?",
        (customer_id, sql.time(since)),
    )
    return int(row[0]) if row else 0


def due_reviews(*, session: Session, now: datetime, limit: int) -> list[TierRow]:
    sql = raw(session)
    rows = sql.all(
        "SELECT customer_id, tier, since, review_at, grace_until FROM customer_tier"
        " WHERE review_at <= ? ORDER BY review_at, customer_id LIMIT ?",
        (sql.time(now), limit),
    )
    return [row_from_driver(sql, row) for row in rows]
