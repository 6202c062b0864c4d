"""SQL for once-only bonuses, referrals and the birthday index."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from node.store.sql import raw


def bonus_awarded(*, session: Session, customer_id: str, kind: str, period: str) -> bool:
    row = raw(session).one(
        "SELECT 1 FROM bonus_award WHERE customer_id = ? AND kind = ? AND period = ?",
        (customer_id, kind, period),
    )
    return row is not None


def insert_award(
    *,
    session: Session,
    customer_id: str,
    kind: str,
    period: str,
    points: int,
    transaction_id: int | None,
    now: datetime,
) -> None:
    sql = raw(session)
    sql.execute(
        "INSERT INTO bonus_award (customer_id, kind, period, points, transaction_id, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (customer_id, kind, period, points, transaction_id, sql.time(now)),
    )


def insert_referral(*, session: Session, referred_id: str, referrer_id: str, now: datetime) -> None:
    sql = raw(session)
    sql.execute(
        "INSERT INTO referral (referred_id, referrer_id, created_at) VALUES (?, ?, ?)",
        (referred_id, referrer_id, sql.time(now)),
    )


def pending_referrer(*, session: Session, referred_id: str) -> str | None:
    row = raw(session).one(
        "SELECT referrer_id FROM referral WHERE referred_id = ? AND rewarded_at IS NULL",
        (referred_id,),
    )
    return str(row[0]) if row else None


def mark_referral_rewarded(*, session: Session, referred_id: str, now: datetime) -> bool:
    sql = raw(session)
    row = sql.one(
        "UPDATE referral SET rewarded_at = ? WHERE referred_id = ? AND rewarded_at IS NULL"
        " RETURNING referred_id",
        (sql.time(now), referred_id),
    )
    return row is not None


def save_birth_month(*, session: Session, customer_id: str, month_digest: str) -> None:
    sql = raw(session)
    sql.execute("DELETE FROM birthday_index WHERE customer_id = ?", (customer_id,))
    sql.execute(
        "INSERT INTO birthday_index (customer_id, month_digest) VALUES (?, ?)",
        (customer_id, month_digest),
    )


def birthdays_without_award(
    *, session: Session, month_digest: str, period: str, limit: int
) -> list[str]:
    """Active members born in the month who have no birthday award for ``period``."""
    rows = raw(session).all(
        "SELECT b.customer_id FROM birthday_index b JOIN customer c ON c.id = b.customer_id"
        " WHERE b.month_digest = ? AND c.status = 'active' AND NOT EXISTS (SELECT 1 FROM"
        " bonus_award a WHERE a.customer_id = b.customer_id AND a.kind = 'birthday'"
        " AND a.period = ?) ORDER BY b.customer_id LIMIT ?",
        (month_digest, period, limit),
    )
    return [str(r[0]) for r in rows]
