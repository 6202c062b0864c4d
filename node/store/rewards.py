"""SQL for the rewards catalogue's runtime state: stock counters and vouchers.

The catalogue itself (codes, prices, limits) lives in the program
(node.program.config.Reward); these tables only count and remember what was
issued. Functions take a keyword-only ``session`` inside a transaction the
caller owns and never commit.

A voucher's stored ``status`` is ``issued``, ``used`` or ``cancelled``;
"expired" is never stored: it is an issued voucher whose ``expires_at`` has
passed, so it needs no job and cannot drift.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from node.store.sql import RawSQL, raw

ISSUED = "issued"
USED = "used"
CANCELLED = "cancelled"


@dataclass(frozen=True)
class VoucherRow:
    id: int
    code: str
    reward_code: str
    customer_id: str
    points: int
    status: str
    issued_at: datetime
    expires_at: datetime | None
    used_at: datetime | None
    used_reference: str | None
    cancelled_at: datetime | None


_VOUCHER_COLUMNS = (
    "id, code, reward_code, customer_id, points, status, issued_at, expires_at, used_at,"
    " used_reference, cancelled_at"
)


def _voucher(sql: RawSQL, row: tuple[Any, ...]) -> VoucherRow:
    def time(value: Any) -> datetime | None:
        return None if value is None else sql.parse_time(value)

    return VoucherRow(
        int(row[0]),
        str(row[1]),
        str(row[2]),
        str(row[3]),
        int(row[4]),
        str(row[5]),
        sql.parse_time(row[6]),
        time(row[7]),
        time(row[8]),
        row[9],
        time(row[10]),
    )


def member_tier(*, session: Session, customer_id: str) -> str | None:
    """The member's stored tier, or None when no row exists (the entry tier)."""
    row = raw(session).one("SELECT tier FROM customer_tier WHERE customer_id = ?", (customer_id,))
    return str(row[0]) if row else None


def issued_counts(*, session: Session, reward_codes: Iterable[str]) -> dict[str, int]:
    """How many of each reward have been issued (and not given back)."""
    codes = list(reward_codes)
    if not codes:
        return {}
    marks = ", ".join("?" * len(codes))
    rows = raw(session).all(
        f"SELECT reward_code, issued FROM reward_stock WHERE reward_code IN ({marks})",
        tuple(codes),
    )
    return {str(code): int(issued) for code, issued in rows}


def take_stock_unit(*, session: Session, reward_code: str, stock: int | None) -> bool:
    """Count one more issued unit if ``stock`` allows it (None: unlimited).

    The conditional UPDATE takes the counter's row lock, so of two redeemers
    racing for the last unit exactly one gets it; the other sees False.
    """
    sql = raw(session)
    sql.execute(
        "INSERT INTO reward_stock (reward_code, issued) VALUES (?, 0)"
        " ON CONFLICT (reward_code) DO NOTHING",
        (reward_code,),
    )
    if stock is None:
        row = sql.one(
            "UPDATE reward_stock SET issued = issued + 1 WHERE reward_code = ? RETURNING issued",
            (reward_code,),
        )
    else:
        row = sql.one(
            "UPDATE reward_stock SET issued = issued + 1 WHERE reward_code = ? AND issued < ?"
            " RETURNING issued",
            (reward_code, stock),
        )
    return row is not None


def return_stock_unit(*, session: Session, reward_code: str) -> None:
    """Give one issued unit back (a cancelled voucher)."""
    raw(session).execute(
        "UPDATE reward_stock SET issued = issued - 1 WHERE reward_code = ? AND issued > 0",
        (reward_code,),
    )


def vouchers_held(*, session: Session, customer_id: str) -> dict[str, int]:
    """Per reward code, the member's vouchers that count against a per-customer limit.

    Every voucher counts except a cancelled one (used and expired ones count).
    """
    rows = raw(session).all(
        "SELECT reward_code, COUNT(*) FROM voucher WHERE customer_id = ? AND status <> ?"
        " GROUP BY reward_code",
        (customer_id, CANCELLED),
    )
    return {str(code): int(count) for code, count in rows}


def insert_voucher(
    *,
    session: Session,
    code: str,
    reward_code: str,
    customer_id: str,
    points: int,
    transaction_id: int,
    issued_at: datetime,
    expires_at: datetime | None,
) -> VoucherRow:
    sql = raw(session)
    row = sql.one(
        "INSERT INTO voucher (code, reward_code, customer_id, points, status, transaction_id,"
        f" issued_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING {_VOUCHER_COLUMNS}",
        (
            code,
            reward_code,
            customer_id,
            points,
            ISSUED,
            transaction_id,
            sql.time(issued_at),
            sql.time(expires_at),
        ),
    )
    assert row is not None
    return _voucher(sql, row)


def voucher_by_code(*, session: Session, code: str) -> VoucherRow | None:
    sql = raw(session)
    row = sql.one(f"SELECT {_VOUCHER_COLUMNS} FROM voucher WHERE code = ?", (code,))
    return _voucher(sql, row) if row else None


def mark_used(
    *, session: Session, voucher_id: int, reference: str | None, now: datetime
) -> VoucherRow | None:
    """Issued and unexpired -> used; the updated row, or None if it was not so.

    Conditional on the status, so of two tills racing to use one code
    exactly one changes it.
    """
    sql = raw(session)
    stamp = sql.time(now)
    row = sql.one(
        "UPDATE voucher SET status = ?, used_at = ?, used_reference = ?"
        " WHERE id = ? AND status = ? AND (expires_at IS NULL OR expires_at > ?)"
        f" RETURNING {_VOUCHER_COLUMNS}",
        (USED, stamp, reference, voucher_id, ISSUED, stamp),
    )
    return _voucher(sql, row) if row else None


def mark_cancelled(*, session: Session, voucher_id: int, now: datetime) -> VoucherRow | None:
    """Issued (expired or not) -> cancelled; the updated row, or None if it was not issued."""
    sql = raw(session)
    row = sql.one(
        "UPDATE voucher SET status = ?, cancelled_at = ? WHERE id = ? AND status = ?"
        f" RETURNING {_VOUCHER_COLUMNS}",
        (CANCELLED, sql.time(now), voucher_id, ISSUED),
    )
    return _voucher(sql, row) if row else None


def set_refund_transaction(*, session: Session, voucher_id: int, transaction_id: int) -> None:
    raw(session).execute(
        "UPDATE voucher SET refund_transaction_id = ? WHERE id = ?", (transaction_id, voucher_id)
    )


def customer_vouchers(
    *, session: Session, customer_id: str, before_id: int | None, limit: int
) -> list[VoucherRow]:
    """A member's vouchers, newest first, keyset-paged by internal id."""
    sql = raw(session)
    rows = sql.all(
        f"SELECT {_VOUCHER_COLUMNS} FROM voucher WHERE customer_id = ? AND id < ?"
        " ORDER BY id DESC LIMIT ?",
        (customer_id, before_id if before_id is not None else 2**62, limit),
    )
    return [_voucher(sql, row) for row in rows]
