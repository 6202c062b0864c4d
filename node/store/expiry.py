"""SQL for points that are about to expire, and which lots have been announced.

Only lots with points left that expire after ``now`` and no later than the
horizon count: a lot past its expiry is gone even before the expiry job has
written it off (see node.services.ledger.customer_balance). Only the points
accounts of active members are read. Every query keeps ``remaining > 0``, so
it can use the partial index ``ix_point_lot_expiry``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from node.store.sql import RawSQL, raw

_DUE = (
    " FROM point_lot l JOIN account a ON a.id = l.account_id"
    " JOIN customer c ON c.id = a.customer_id"
    " WHERE l.remaining > 0 AND l.expires_at > ? AND l.expires_at <= ?"
    " AND a.kind = 'customer' AND c.status = 'active'"
)
_NOT_WARNED = " AND NOT EXISTS (SELECT 1 FROM expiry_warning w WHERE w.lot_id = l.id)"


@dataclass(frozen=True)
class ExpiringLot:
    lot_id: int
    customer_id: str
    points: int
    earned_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class CustomerExpiring:
    customer_id: str
    points: int
    earliest: datetime


def customer_summaries(
    *,
    session: Session,
    now: datetime,
    horizon: datetime,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[CustomerExpiring]:
    """Per member: points expiring in (now, horizon] and the earliest expiry.

    Soonest first, then by customer id; ``after`` is the (earliest, customer
    id) of the last row of the previous page.
    """
    sql = raw(session)
    params: list[Any] = [sql.time(now), sql.time(horizon)]
    having = ""
    if after is not None:
        having = " HAVING MIN(l.expires_at) > ? OR (MIN(l.expires_at) = ? AND a.customer_id > ?)"
        params += [sql.time(after[0]), sql.time(after[0]), after[1]]
    rows = sql.all(
        f"SELECT a.customer_id, SUM(l.remaining), MIN(l.expires_at){_DUE}"
        f" GROUP BY a.customer_id{having}"
        " ORDER BY MIN(l.expires_at), a.customer_id LIMIT ?",
        (*params, limit),
    )
    return [CustomerExpiring(str(r[0]), int(r[1]), sql.parse_time(r[2])) for r in rows]


def customer_lots(
    *, session: Session, customer_id: str, now: datetime, horizon: datetime, limit: int
) -> tuple[int, list[ExpiringLot]]:
    """(points expiring in (now, horizon], the first ``limit`` of those lots, soonest first)."""
    sql = raw(session)
    window = (sql.time(now), sql.time(horizon), customer_id)
    total = sql.one(f"SELECT COALESCE(SUM(l.remaining), 0){_DUE} AND a.customer_id = ?", window)
    rows = sql.all(
        f"SELECT l.id, a.customer_id, l.remaining, l.earned_at, l.expires_at{_DUE}"
        " AND a.customer_id = ? ORDER BY l.expires_at, l.id LIMIT ?",
        (*window, limit),
    )
    return int(total[0]) if total else 0, [_lot(sql, r) for r in rows]


def accounts_to_warn(
    *, session: Session, now: datetime, horizon: datetime, limit: int
) -> list[int]:
    """Accounts holding lots due within the horizon that were never announced."""
    sql = raw(session)
    rows = sql.all(
        f"SELECT DISTINCT l.account_id{_DUE}{_NOT_WARNED} ORDER BY l.account_id LIMIT ?",
        (sql.time(now), sql.time(horizon), limit),
    )
    return [int(r[0]) for r in rows]


def lots_to_warn(
    *, session: Session, account_ids: Sequence[int], now: datetime, horizon: datetime
) -> list[ExpiringLot]:
    if not account_ids:
        return []
    sql = raw(session)
    marks = ", ".join(["?"] * len(account_ids))
    rows = sql.all(
        f"SELECT l.id, a.customer_id, l.remaining, l.earned_at, l.expires_at{_DUE}{_NOT_WARNED}"
        f" AND l.account_id IN ({marks}) ORDER BY l.id",
        (sql.time(now), sql.time(horizon), *account_ids),
    )
    return [_lot(sql, r) for r in rows]


def insert_warnings(*, session: Session, lot_ids: Sequence[int], now: datetime) -> set[int]:
    """Mark lots as announced; returns the ids this call marked (others were already)."""
    sql = raw(session)
    stamp = sql.time(now)
    marked: set[int] = set()
    for start in range(0, len(lot_ids), 500):
        chunk = lot_ids[start : start + 500]
        values = ", ".join(["(?, ?)"] * len(chunk))
        params: tuple[Any, ...] = ()
        for lot_id in chunk:
            params += (lot_id, stamp)
        rows = sql.all(
            f"INSERT INTO expiry_warning (lot_id, warned_at) VALUES {values}"
            " ON CONFLICT (lot_id) DO NOTHING RETURNING lot_id",
            params,
        )
        marked.update(int(r[0]) for r in rows)
    return marked


def _lot(sql: RawSQL, r: tuple[Any, ...]) -> ExpiringLot:
    return ExpiringLot(int(r[0]), str(r[1]), int(r[2]), sql.parse_time(r[3]), sql.parse_time(r[4]))
