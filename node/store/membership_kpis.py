"""SQL for the paid membership KPIs: the history and payment rows, no rules."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from node.store.sql import raw


def changes_before(*, session: Session, end: datetime) -> list[tuple[str, str, datetime]]:
    """(customer, change, created_at) of every membership change before ``end``, in order."""
    sql = raw(session)
    rows = sql.all(
        "SELECT customer_id, change, created_at FROM membership_change WHERE created_at < ?"
        " ORDER BY id",
        (sql.time(end),),
    )
    return [(str(r[0]), str(r[1]), sql.parse_time(r[2])) for r in rows]


def payments_from(
    *, session: Session, start: datetime
) -> list[tuple[str, int, datetime, datetime, datetime]]:
    """(customer, amount, period_start, period_end, created_at) of payments and refunds
    whose period ends at or after ``start``."""
    sql = raw(session)
    rows: list[Any] = sql.all(
        "SELECT customer_id, amount, period_start, period_end, created_at FROM membership_payment"
        " WHERE period_end >= ? ORDER BY id",
        (sql.time(start),),
    )
    return [
        (str(r[0]), int(r[1]), sql.parse_time(r[2]), sql.parse_time(r[3]), sql.parse_time(r[4]))
        for r in rows
    ]
