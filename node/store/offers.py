"""SQL for personalised offers: the facts a rule needs, and the offers themselves.

Every fact query reads one member's own rows on an index
(``ix_purchase_customer_time``, ``purchase_line.purchase_id``,
``ix_purchase_line_purchase_product``, ``ix_customer_offer_customer``), so
evaluating after a purchase stays cheap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from node.store.sql import raw

PENDING, USED = "pending", "used"


# -- facts ----------------------------------------------------------------------------


def category_purchases(
    *, session: Session, customer_id: str, category: str, since: datetime
) -> int:
    """How many of the member's purchases since ``since`` had a line in ``category``."""
    sql = raw(session)
    row = sql.one(
        "SELECT COUNT(DISTINCT p.id) FROM purchase p JOIN purchase_line l ON l.purchase_id = p.id"
        " WHERE p.customer_id = ? AND p.occurred_at >= ? AND l.category = ?",
        (customer_id, sql.time(since), category),
    )
    return int(row[0]) if row else 0


def product_purchases(*, session: Session, customer_id: str, product: str, since: datetime) -> int:
    """How many of the member's purchases since ``since`` had a line of ``product``.

    The member's purchases come off ``ix_purchase_customer_time``; each is probed
    on ``ix_purchase_line_purchase_product``: no other member's rows are read.
    """
    sql = raw(session)
    row = sql.one(
        "SELECT COUNT(*) FROM purchase p WHERE p.customer_id = ? AND p.occurred_at >= ?"
        " AND EXISTS (SELECT 1 FROM purchase_line l WHERE l.purchase_id = p.id"
        " AND l.product = ?)",
        (customer_id, sql.time(since), product),
    )
    return int(row[0]) if row else 0


def spend_since(*, session: Session, customer_id: str, since: datetime) -> int:
    """The member's spend since ``since``, net of refunds, in minor units."""
    sql = raw(session)
    row = sql.one(
        "SELECT COALESCE(SUM(amount - refunded_amount), 0) FROM purchase"
        " WHERE customer_id = ? AND occurred_at >= ?",
        (customer_id, sql.time(since)),
    )
    return int(row[0]) if row else 0


def last_purchase_at(*, session: Session, customer_id: str) -> datetime | None:
    sql = raw(session)
    row = sql.one("SELECT MAX(occurred_at) FROM purchase WHERE customer_id = ?", (customer_id,))
    return sql.parse_time(row[0]) if row and row[0] is not None else None


def born_in_month(*, session: Session, customer_id: str, month_digest: str) -> bool:
    row = raw(session).one(
        "SELECT 1 FROM birthday_index WHERE customer_id = ? AND month_digest = ?",
        (customer_id, month_digest),
    )
    return row is not None


def customers_granting(*, session: Session, purpose: str, after: str, limit: int) -> list[str]:
    """Active customers whose newest record of ``purpose`` is a grant, by id after ``after``."""
    rows = raw(session).all(
        "SELECT r.customer_id FROM consent_record r JOIN customer c ON c.id = r.customer_id"
        " WHERE r.purpose = ? AND r.customer_id > ? AND c.status = 'active' AND r.granted = ?"
        " AND r.id = (SELECT MAX(n.id) FROM consent_record n WHERE n.customer_id ="
        " r.customer_id AND n.purpose = r.purpose) ORDER BY r.customer_id LIMIT ?",
        (purpose, after, True, limit),
    )
    return [str(r[0]) for r in rows]


# -- offers ---------------------------------------------------------------------------


@dataclass(frozen=True)
class OfferRow:
    id: int
    public_id: str
    customer_id: str
    rule: str
    program_version: int
    reward_kind: str
    bonus_points: int | None
    discount_code: str | None
    reward_code: str | None
    facts: str
    status: str
    issued_at: datetime
    expires_at: datetime
    used_at: datetime | None
    use_reference: str | None
    voucher_code: str | None


_COLUMNS = (
    "id, public_id, customer_id, rule, program_version, reward_kind, bonus_points,"
    " discount_code, reward_code, facts, status, issued_at, expires_at, used_at,"
    " use_reference, voucher_code"
)


def _row(session: Session, row: tuple[Any, ...]) -> OfferRow:
    sql = raw(session)
    return OfferRow(
        int(row[0]),
        str(row[1]),
        str(row[2]),
        str(row[3]),
        int(row[4]),
        str(row[5]),
        None if row[6] is None else int(row[6]),
        row[7],
        row[8],
        str(row[9]),
        str(row[10]),
        sql.parse_time(row[11]),
        sql.parse_time(row[12]),
        None if row[13] is None else sql.parse_time(row[13]),
        row[14],
        row[15],
    )


def pending_rules(*, session: Session, customer_id: str, now: datetime) -> set[str]:
    """The rules the member holds an unexpired pending offer of (one indexed read)."""
    sql = raw(session)
    return {
        str(row[0])
        for row in sql.execute(
            "SELECT rule FROM customer_offer WHERE customer_id = ? AND status = 'pending'"
            " AND expires_at > ?",
            (customer_id, sql.time(now)),
        ).fetchall()
    }


def issued_in_period(
    *, session: Session, customer_id: str, rule: str, period_key: str, now: datetime
) -> tuple[int, bool]:
    """(offers of the rule issued in the period, whether one is pending and unexpired)."""
    sql = raw(session)
    row = sql.one(
        "SELECT COALESCE(MAX(seq), 0), (SELECT COUNT(*) FROM customer_offer WHERE"
        " customer_id = ? AND status = 'pending' AND rule = ? AND expires_at > ?)"
        " FROM customer_offer WHERE customer_id = ? AND rule = ? AND period_key = ?",
        (customer_id, rule, sql.time(now), customer_id, rule, period_key),
    )
    assert row is not None
    return int(row[0]), int(row[1]) > 0


def insert_offer(
    *,
    session: Session,
    public_id: str,
    customer_id: str,
    rule: str,
    period_key: str,
    seq: int,
    program_version: int,
    reward_kind: str,
    bonus_points: int | None,
    discount_code: str | None,
    reward_code: str | None,
    facts: str,
    issued_at: datetime,
    expires_at: datetime,
) -> None:
    sql = raw(session)
    sql.execute(
        "INSERT INTO customer_offer (public_id, customer_id, rule, period_key, seq,"
        " program_version, reward_kind, bonus_points, discount_code, reward_code, facts,"
        " status, issued_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            public_id,
            customer_id,
            rule,
            period_key,
            seq,
            program_version,
            reward_kind,
            bonus_points,
            discount_code,
            reward_code,
            facts,
            PENDING,
            sql.time(issued_at),
            sql.time(expires_at),
        ),
    )


def customer_offers(*, session: Session, customer_id: str) -> list[OfferRow]:
    """The member's offers, newest first."""
    rows = raw(session).all(
        f"SELECT {_COLUMNS} FROM customer_offer WHERE customer_id = ? ORDER BY id DESC",
        (customer_id,),
    )
    return [_row(session, row) for row in rows]


def find_offer(*, session: Session, customer_id: str, public_id: str) -> OfferRow | None:
    row = raw(session).one(
        f"SELECT {_COLUMNS} FROM customer_offer WHERE public_id = ? AND customer_id = ?",
        (public_id, customer_id),
    )
    return _row(session, row) if row else None


def mark_used(
    *,
    session: Session,
    offer_id: int,
    now: datetime,
    reference: str | None,
    transaction_id: int | None,
    voucher_code: str | None,
) -> bool:
    """Mark a pending offer used; False when it was not pending any more."""
    sql = raw(session)
    row = sql.one(
        "UPDATE customer_offer SET status = 'used', used_at = ?, use_reference = ?,"
        " transaction_id = ?, voucher_code = ? WHERE id = ? AND status = 'pending'"
        " RETURNING id",
        (sql.time(now), reference, transaction_id, voucher_code, offer_id),
    )
    return row is not None


def delete_pending(*, session: Session, customer_id: str) -> int:
    """Remove the member's pending offers (consent withdrawn); how many went."""
    result = raw(session).execute(
        "DELETE FROM customer_offer WHERE customer_id = ? AND status = 'pending'", (customer_id,)
    )
    return max(result.rowcount or 0, 0)


def count_offers(*, session: Session, customer_id: str | None = None) -> int:
    if customer_id is None:
        row = raw(session).one("SELECT COUNT(*) FROM customer_offer")
    else:
        row = raw(session).one(
            "SELECT COUNT(*) FROM customer_offer WHERE customer_id = ?", (customer_id,)
        )
    return int(row[0]) if row else 0
