"""SQL for purchases recorded at the till (amounts in minor units)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from node.store.models import Purchase
from node.store.sql import raw

purchase_t = Purchase.__table__  # type: ignore[attr-defined]


def insert_purchase(
    *,
    session: Session,
    customer_id: str,
    transaction_id: int,
    order_ref: str | None,
    amount: int,
    currency: str,
    points: int,
    occurred_at: datetime,
    program_version: int = 0,
    cashback: int = 0,
) -> int:
    sql = raw(session)
    row = sql.one(
        "INSERT INTO purchase (customer_id, transaction_id, order_ref, amount, currency, points,"
        " occurred_at, program_version, cashback, refunded_amount, reversed_points,"
        " reversed_cashback) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, 0) RETURNING id",
        (
            customer_id,
            transaction_id,
            order_ref,
            amount,
            currency,
            points,
            sql.time(occurred_at),
            program_version,
            cashback,
        ),
    )
    assert row is not None
    return int(row[0])


def insert_lines(
    *, session: Session, purchase_id: int, lines: list[tuple[str, int, str | None]]
) -> None:
    """(category, amount, product) lines of a purchase, in one statement."""
    values = ", ".join(["(?, ?, ?, ?)"] * len(lines))
    params: tuple[object, ...] = ()
    for category, amount, product in lines:
        params += (purchase_id, category, amount, product)
    raw(session).execute(
        f"INSERT INTO purchase_line (purchase_id, category, amount, product) VALUES {values}",
        params,
    )


@dataclass(frozen=True)
class RefundablePurchase:
    id: int
    transaction_public_id: str
    currency: str


def find_purchase(
    *, session: Session, customer_id: str, transaction_id: str | None, order_ref: str | None
) -> list[RefundablePurchase]:
    """The customer's purchases by the earn transaction's id or the till's order ref."""
    sql = raw(session)
    if transaction_id is not None:
        rows = sql.all(
            "SELECT p.id, t.public_id, p.currency FROM purchase p JOIN ledger_transaction t"
            " ON t.id = p.transaction_id WHERE t.public_id = ? AND p.customer_id = ?",
            (transaction_id, customer_id),
        )
    else:
        rows = sql.all(
            "SELECT p.id, t.public_id, p.currency FROM purchase p JOIN ledger_transaction t"
            " ON t.id = p.transaction_id WHERE p.order_ref = ? AND p.customer_id = ?"
            " ORDER BY p.id LIMIT 2",
            (order_ref, customer_id),
        )
    return [RefundablePurchase(int(r[0]), str(r[1]), str(r[2])) for r in rows]


@dataclass(frozen=True)
class RefundedPurchase:
    amount: int
    refunded_amount: int
    points: int
    reversed_points: int
    cashback: int
    reversed_cashback: int


def add_refund(*, session: Session, purchase_id: int, amount: int) -> RefundedPurchase | None:
    """Count ``amount`` as refunded if what is left to refund covers it (locks the row)."""
    row = raw(session).one(
        "UPDATE purchase SET refunded_amount = refunded_amount + ?"
        " WHERE id = ? AND refunded_amount + ? <= amount"
        " RETURNING amount, refunded_amount, points, reversed_points, cashback,"
        " reversed_cashback",
        (amount, purchase_id, amount),
    )
    if row is None:
        return None
    return RefundedPurchase(*(int(value) for value in row))


def set_reversed(
    *, session: Session, purchase_id: int, reversed_points: int, reversed_cashback: int
) -> None:
    raw(session).execute(
        "UPDATE purchase SET reversed_points = ?, reversed_cashback = ? WHERE id = ?",
        (reversed_points, reversed_cashback, purchase_id),
    )


def insert_refund(
    *,
    session: Session,
    public_id: str,
    purchase_id: int,
    customer_id: str,
    transaction_id: int | None,
    amount: int,
    points: int,
    debt_points: int,
    cashback: int,
    debt_cashback: int,
    reference: str | None,
    now: datetime,
) -> None:
    sql = raw(session)
    sql.execute(
        "INSERT INTO refund (public_id, purchase_id, customer_id, transaction_id, amount,"
        " points, debt_points, cashback, debt_cashback, reference, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            public_id,
            purchase_id,
            customer_id,
            transaction_id,
            amount,
            points,
            debt_points,
            cashback,
            debt_cashback,
            reference,
            sql.time(now),
        ),
    )
