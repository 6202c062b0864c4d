"""SQL for accounts, ledger transactions, entries and point lots. No rules here.

Functions take a keyword-only ``session`` inside a transaction the caller owns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, insert, select, update
from sqlmodel import Session

from node.store.models import Account, LedgerEntry, LedgerTransaction, LotMovement, PointLot
from node.store.sql import RawSQL, raw

account_t = Account.__table__  # type: ignore[attr-defined]
txn_t = LedgerTransaction.__table__  # type: ignore[attr-defined]
entry_t = LedgerEntry.__table__  # type: ignore[attr-defined]
lot_t = PointLot.__table__  # type: ignore[attr-defined]
movement_t = LotMovement.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class TransactionRow:
    id: int
    public_id: str
    kind: str
    customer_id: str | None
    points: int
    reference: str | None
    created_at: datetime


@dataclass(frozen=True)
class OpenLot:
    id: int
    remaining: int
    expires_at: datetime | None


@dataclass(frozen=True)
class CustomerState:
    account_id: int
    balance: int
    status: str
    has_due_lots: bool
    #: Points the member owes from refunds of points already spent (>= 0).
    debt: int


def account_id_by_code(*, session: Session, code: str, permanent: bool = False) -> int | None:
    """An account's id by code.

    ``permanent`` accounts (created by the migrations, never deleted) have
    their ids cached per connection; others might still be uncommitted.
    """
    cache: dict[str, int] = raw(session).cache.setdefault("konsort_account_ids", {})
    if code in cache:
        return cache[code]
    row = raw(session).one("SELECT id FROM account WHERE code = ?", (code,))
    if row is None:
        return None
    if permanent:
        cache[code] = int(row[0])
    return int(row[0])


def insert_account(
    *,
    session: Session,
    code: str,
    kind: str,
    customer_id: str | None,
    now: datetime,
    unit: str = "points",
) -> int:
    result = session.execute(
        insert(account_t)
        .values(code=code, kind=kind, customer_id=customer_id, unit=unit, balance=0, created_at=now)
        .returning(account_t.c.id)
    )
    return int(result.scalar_one())


def insert_system_account(
    *, session: Session, code: str, kind: str, now: datetime, unit: str
) -> int:
    """The id of account ``code``, inserted unless a concurrent transaction did."""
    sql = raw(session)
    row = sql.one(
        "INSERT INTO account (code, kind, customer_id, unit, balance, created_at)"
        " VALUES (?, ?, NULL, ?, 0, ?) ON CONFLICT (code) DO NOTHING RETURNING id",
        (code, kind, unit, sql.time(now)),
    )
    if row is None:
        row = sql.one("SELECT id FROM account WHERE code = ?", (code,))
    assert row is not None
    return int(row[0])


#: A customer's account state as columns over ``account a JOIN customer c``; its
#: placeholders are the time lots fall due and the debt account's code.
CUSTOMER_STATE_COLUMNS = (
    "a.id, a.balance, c.status, EXISTS (SELECT 1 FROM point_lot l"
    " WHERE l.account_id = a.id AND l.remaining > 0 AND l.expires_at <= ?),"
    " (SELECT d.balance FROM account d WHERE d.code = ?)"
)


def customer_state_params(sql: RawSQL, customer_id: str, now: datetime) -> tuple[object, ...]:
    return (sql.time(now), f"debt:{customer_id}")


def customer_state_from_row(row: Sequence[Any]) -> CustomerState | None:
    """The state from :data:`CUSTOMER_STATE_COLUMNS`; None when the account is missing."""
    if row[0] is None:
        return None
    return CustomerState(int(row[0]), int(row[1]), str(row[2]), bool(row[3]), -int(row[4] or 0))


def customer_state(*, session: Session, customer_id: str, now: datetime) -> CustomerState | None:
    """A customer's account, balance and status, and whether lots await expiry."""
    sql = raw(session)
    row = sql.one(
        f"SELECT {CUSTOMER_STATE_COLUMNS}"
        " FROM account a JOIN customer c ON c.id = a.customer_id WHERE a.customer_id = ?",
        (*customer_state_params(sql, customer_id, now), customer_id),
    )
    return customer_state_from_row(row) if row is not None else None


def account_balances(*, session: Session, codes: Sequence[str]) -> dict[str, tuple[int, int]]:
    """code -> (account id, running balance) of those of ``codes`` that exist."""
    marks = ", ".join("?" * len(codes))
    rows = raw(session).all(
        f"SELECT code, id, balance FROM account WHERE code IN ({marks})", tuple(codes)
    )
    return {str(r[0]): (int(r[1]), int(r[2])) for r in rows}


def account_balance(*, session: Session, code: str) -> tuple[int, int] | None:
    """(account id, running balance) of an account by code."""
    row = raw(session).one("SELECT id, balance FROM account WHERE code = ?", (code,))
    return (int(row[0]), int(row[1])) if row else None


def customer_account(*, session: Session, customer_id: str) -> tuple[int, int] | None:
    """(account id, stored balance) of a customer's points account."""
    row = raw(session).one("SELECT id, balance FROM account WHERE customer_id = ?", (customer_id,))
    return (int(row[0]), int(row[1])) if row else None


def change_balance(*, session: Session, account_id: int, delta: int) -> int:
    """Add ``delta`` to a running balance; returns the new balance."""
    row = raw(session).one(
        "UPDATE account SET balance = balance + ? WHERE id = ? RETURNING balance",
        (delta, account_id),
    )
    assert row is not None
    return int(row[0])


def take_balance(*, session: Session, account_id: int, points: int) -> int | None:
    """Subtract ``points`` only if the balance covers them; the new balance, or None.

    The conditional UPDATE is atomic and row-locking, so of two racing
    redemptions for the last points exactly one succeeds.
    """
    row = raw(session).one(
        "UPDATE account SET balance = balance - ? WHERE id = ? AND balance >= ? RETURNING balance",
        (points, account_id, points),
    )
    return int(row[0]) if row else None


def insert_transaction(
    *,
    session: Session,
    public_id: str,
    kind: str,
    customer_id: str | None,
    points: int,
    idempotency_key: str | None,
    reference: str | None,
    actor: str | None,
    now: datetime,
) -> int:
    sql = raw(session)
    row = sql.one(
        "INSERT INTO ledger_transaction (public_id, kind, customer_id, points,"
        " idempotency_key, actor, reference, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        " RETURNING id",
        (public_id, kind, customer_id, points, idempotency_key, actor, reference, sql.time(now)),
    )
    assert row is not None
    return int(row[0])


def insert_entries(
    *, session: Session, transaction_id: int, postings: Sequence[tuple[int, int]]
) -> None:
    values = ", ".join(["(?, ?, ?)"] * len(postings))
    params: tuple[Any, ...] = ()
    for account, amount in postings:
        params += (transaction_id, account, amount)
    raw(session).execute(
        f"INSERT INTO ledger_entry (transaction_id, account_id, amount) VALUES {values}", params
    )


def insert_lot(
    *,
    session: Session,
    account_id: int,
    transaction_id: int,
    points: int,
    earned_at: datetime,
    expires_at: datetime | None,
) -> None:
    sql = raw(session)
    sql.execute(
        "INSERT INTO point_lot (account_id, transaction_id, amount, remaining, earned_at,"
        " expires_at) VALUES (?, ?, ?, ?, ?, ?)",
        (account_id, transaction_id, points, points, sql.time(earned_at), sql.time(expires_at)),
    )


def open_lots(*, session: Session, account_id: int) -> list[OpenLot]:
    """Lots with points left, oldest first (the order they are spent in)."""
    rows = session.execute(
        select(lot_t.c.id, lot_t.c.remaining, lot_t.c.expires_at)
        .where(lot_t.c.account_id == account_id, lot_t.c.remaining > 0)
        .order_by(lot_t.c.id)
    )
    return [OpenLot(int(r[0]), int(r[1]), r[2]) for r in rows]


def oldest_lots(*, session: Session, account_id: int, limit: int) -> list[tuple[int, int]]:
    """(lot id, remaining) of the oldest lots with points left, in spending order."""
    rows = raw(session).all(
        "SELECT id, remaining FROM point_lot WHERE account_id = ? AND remaining > 0"
        " ORDER BY id LIMIT ?",
        (account_id, limit),
    )
    return [(int(r[0]), int(r[1])) for r in rows]


def take_from_lot(
    *, session: Session, lot_id: int, expected_remaining: int, points: int, transaction_id: int
) -> bool:
    """Move ``points`` out of a lot if it still holds ``expected_remaining``."""
    sql = raw(session)
    changed = sql.one(
        "UPDATE point_lot SET remaining = remaining - ? WHERE id = ? AND remaining = ?"
        " RETURNING id",
        (points, lot_id, expected_remaining),
    )
    if changed is None:
        return False
    sql.execute(
        "INSERT INTO lot_movement (lot_id, transaction_id, amount) VALUES (?, ?, ?)",
        (lot_id, transaction_id, -points),
    )
    return True


def balance_summary(
    *, session: Session, account_id: int, now: datetime
) -> tuple[int, int, datetime | None]:
    """(points in lots past expiry, points expiring next, when they expire)."""
    sql = raw(session)
    stamp = sql.time(now)
    row = sql.one(
        "SELECT COALESCE(SUM(CASE WHEN expires_at <= ? THEN remaining ELSE 0 END), 0),"
        " MIN(CASE WHEN expires_at > ? THEN expires_at END)"
        " FROM point_lot WHERE account_id = ? AND remaining > 0",
        (stamp, stamp, account_id),
    )
    assert row is not None
    expired, next_expiry = int(row[0]), row[1]
    if next_expiry is None:
        return expired, 0, None
    expiring = sql.one(
        "SELECT SUM(remaining) FROM point_lot"
        " WHERE account_id = ? AND remaining > 0 AND expires_at = ?",
        (account_id, next_expiry),
    )
    assert expiring is not None
    return expired, int(expiring[0]), sql.parse_time(next_expiry)


def lock_account(*, session: Session, account_id: int) -> None:
    """Take the account's row lock (PostgreSQL) until the transaction ends."""
    session.execute(
        update(account_t).where(account_t.c.id == account_id).values(balance=account_t.c.balance)
    )


def due_lots_for_account(*, session: Session, account_id: int, now: datetime) -> list[OpenLot]:
    rows = session.execute(
        select(lot_t.c.id, lot_t.c.remaining, lot_t.c.expires_at)
        .where(lot_t.c.account_id == account_id, lot_t.c.remaining > 0, lot_t.c.expires_at <= now)
        .order_by(lot_t.c.id)
    )
    return [OpenLot(int(r[0]), int(r[1]), r[2]) for r in rows]


def accounts_with_due_lots(
    *, session: Session, now: datetime, limit: int
) -> list[tuple[int, str | None]]:
    """(account id, customer id) of accounts holding lots past expiry."""
    due = (
        select(lot_t.c.account_id)
        .where(lot_t.c.remaining > 0, lot_t.c.expires_at <= now)
        .distinct()
        .limit(limit)
        .subquery()
    )
    rows = session.execute(
        select(account_t.c.id, account_t.c.customer_id).join(
            due, due.c.account_id == account_t.c.id
        )
    )
    return [(int(r[0]), r[1]) for r in rows]


def customer_transactions(
    *, session: Session, customer_id: str, before_id: int | None, limit: int
) -> list[TransactionRow]:
    """A customer's transactions, newest first, keyset-paged by internal id."""
    conditions = [txn_t.c.customer_id == customer_id]
    if before_id is not None:
        conditions.append(txn_t.c.id < before_id)
    rows = session.execute(
        select(*_txn_columns()).where(and_(*conditions)).order_by(txn_t.c.id.desc()).limit(limit)
    )
    return [TransactionRow(*row) for row in rows]


def _txn_columns() -> tuple[Any, ...]:
    c = txn_t.c
    return (c.id, c.public_id, c.kind, c.customer_id, c.points, c.reference, c.created_at)
