"""SQL for paid memberships: the current row, its history and the fee payments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from node.store.sql import RawSQL, raw


@dataclass(frozen=True)
class MembershipRow:
    customer_id: str
    plan: str
    state: str
    started_at: datetime
    period_start: datetime
    period_end: datetime
    cancel_at_period_end: bool
    renewal_notice_for: datetime | None


@dataclass(frozen=True)
class ChangeRow:
    plan: str
    change: str
    period_start: datetime
    period_end: datetime
    amount: int | None
    created_at: datetime


_COLUMNS = (
    "customer_id, plan, state, started_at, period_start, period_end, cancel_at_period_end,"
    " renewal_notice_for"
)


def row_from_driver(sql: RawSQL, row: tuple[object, ...]) -> MembershipRow:
    return MembershipRow(
        str(row[0]),
        str(row[1]),
        str(row[2]),
        sql.parse_time(row[3]),
        sql.parse_time(row[4]),
        sql.parse_time(row[5]),
        bool(row[6]),
        sql.parse_time(row[7]) if row[7] is not None else None,
    )


def membership(*, session: Session, customer_id: str) -> MembershipRow | None:
    """One indexed lookup by primary key (the earn hot path uses it)."""
    sql = raw(session)
    row = sql.one(f"SELECT {_COLUMNS} FROM membership WHERE customer_id = ?", (customer_id,))
    return row_from_driver(sql, row) if row else None


def lock_membership(*, session: Session, customer_id: str) -> MembershipRow | None:
    """The row, locked until the transaction ends (PostgreSQL; SQLite has one writer)."""
    sql = raw(session)
    suffix = "" if sql.is_sqlite else " FOR UPDATE"
    row = sql.one(
        f"SELECT {_COLUMNS} FROM membership WHERE customer_id = ?{suffix}", (customer_id,)
    )
    return row_from_driver(sql, row) if row else None


def save_membership(*, session: Session, row: MembershipRow, now: datetime, exists: bool) -> None:
    sql = raw(session)
    values = (
        row.plan,
        row.state,
        sql.time(row.started_at),
        sql.time(row.period_start),
        sql.time(row.period_end),
        row.cancel_at_period_end,
        sql.time(row.renewal_notice_for),
        sql.time(now),
        row.customer_id,
    )
    if exists:
        sql.execute(
            "UPDATE membership SET plan = ?, state = ?, started_at = ?, period_start = ?,"
            " period_end = ?, cancel_at_period_end = ?, renewal_notice_for = ?, updated_at = ?"
            " WHERE customer_id = ?",
            values,
        )
    else:
        sql.execute(
            "INSERT INTO membership (plan, state, started_at, period_start, period_end,"
            " cancel_at_period_end, renewal_notice_for, updated_at, customer_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            values,
        )


def insert_change(
    *,
    session: Session,
    customer_id: str,
    plan: str,
    change: str,
    period_start: datetime,
    period_end: datetime,
    amount: int | None,
    now: datetime,
) -> None:
    sql = raw(session)
    sql.execute(
        "INSERT INTO membership_change (customer_id, plan, change, period_start, period_end,"
        " amount, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            customer_id,
            plan,
            change,
            sql.time(period_start),
            sql.time(period_end),
            amount,
            sql.time(now),
        ),
    )


def changes(*, session: Session, customer_id: str, limit: int = 100) -> list[ChangeRow]:
    """The member's history, newest first."""
    sql = raw(session)
    rows = sql.all(
        "SELECT plan, change, period_start, period_end, amount, created_at FROM"
        " membership_change WHERE customer_id = ? ORDER BY id DESC LIMIT ?",
        (customer_id, limit),
    )
    return [
        ChangeRow(
            str(r[0]),
            str(r[1]),
            sql.parse_time(r[2]),
            sql.parse_time(r[3]),
            int(r[4]) if r[4] is not None else None,
            sql.parse_time(r[5]),
        )
        for r in rows
    ]


def insert_payment(
    *,
    session: Session,
    customer_id: str,
    plan: str,
    amount: int,
    currency: str,
    reference: str | None,
    period_start: datetime,
    period_end: datetime,
    now: datetime,
) -> None:
    sql = raw(session)
    sql.execute(
        "INSERT INTO membership_payment (customer_id, plan, amount, currency, reference,"
        " period_start, period_end, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            customer_id,
            plan,
            amount,
            currency,
            reference,
            sql.time(period_start),
            sql.time(period_end),
            sql.time(now),
        ),
    )


def paid_periods_after(
    *, session: Session, customer_id: str, since: datetime, ending_after: datetime
) -> list[tuple[int, datetime, datetime]]:
    """(fee paid, period start, period end) of fees paid since ``since`` for periods
    that end after ``ending_after``."""
    sql = raw(session)
    rows = sql.all(
        "SELECT amount, period_start, period_end FROM membership_payment WHERE customer_id = ?"
        " AND amount > 0 AND created_at >= ? AND period_end > ? ORDER BY id",
        (customer_id, sql.time(since), sql.time(ending_after)),
    )
    return [(int(r[0]), sql.parse_time(r[1]), sql.parse_time(r[2])) for r in rows]


def due_memberships(
    *, session: Session, before: datetime, after_customer: str, limit: int
) -> list[MembershipRow]:
    """Active or grace memberships whose period ends before ``before``, by customer id."""
    sql = raw(session)
    rows = sql.all(
        f"SELECT {_COLUMNS} FROM membership WHERE state IN ('active', 'grace')"
        " AND period_end < ? AND customer_id > ? ORDER BY customer_id LIMIT ?",
        (sql.time(before), after_customer, limit),
    )
    return [row_from_driver(sql, r) for r in rows]
