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


def account_id_by_code(*, session: Session, code: str) -> int | None:
    return session.execute(select(account_t.c.id).where(account_t.c.code == code)).scalar()


def insert_account(
    *, session: Session, code: str, kind: str, customer_id: str | None, now: datetime
) -> int:
    result = session.execute(
        insert(account_t)
        .values(code=code, kind=kind, customer_id=customer_id, balance=0, created_at=now)
        .returning(account_t.c.id)
    )
    return int(result.scalar_one())


def customer_account(*, session: Session, customer_id: str) -> tuple[int, int] | None:
    """(account id, stored balance) of a customer's points account."""
    row = session.execute(
        select(account_t.c.id, account_t.c.balance).where(account_t.c.customer_id == customer_id)
    ).first()
    return (int(row[0]), int(row[1])) if row else None


def change_balance(*, session: Session, account_id: int, delta: int) -> None:
    session.execute(
        update(account_t)
        .where(account_t.c.id == account_id)
        .values(balance=account_t.c.balance + delta)
    )


def take_balance(*, session: Session, account_id: int, points: int) -> bool:
    """Subtract ``points`` only if the balance covers them; False if it does not.

    The conditional UPDATE is atomic and row-locking, so of two racing
    redemptions for the last points exactly one succeeds.
    """
    result = session.execute(
        update(account_t)
        .where(account_t.c.id == account_id, account_t.c.balance >= points)
        .values(balance=account_t.c.balance - points)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


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
    result = session.execute(
        insert(txn_t)
        .values(
            actor=actor,
            public_id=public_id,
            kind=kind,
            customer_id=customer_id,
            points=points,
            idempotency_key=idempotency_key,
            reference=reference,
            created_at=now,
        )
        .returning(txn_t.c.id)
    )
    return int(result.scalar_one())


def insert_entries(
    *, session: Session, transaction_id: int, postings: Sequence[tuple[int, int]]
) -> None:
    session.execute(
        insert(entry_t),
        [
            {"transaction_id": transaction_id, "account_id": account, "amount": amount}
            for account, amount in postings
        ],
    )


def insert_lot(
    *,
    session: Session,
    account_id: int,
    transaction_id: int,
    points: int,
    earned_at: datetime,
    expires_at: datetime | None,
) -> int:
    result = session.execute(
        insert(lot_t)
        .values(
            account_id=account_id,
            transaction_id=transaction_id,
            amount=points,
            remaining=points,
            earned_at=earned_at,
            expires_at=expires_at,
        )
        .returning(lot_t.c.id)
    )
    return int(result.scalar_one())


def open_lots(*, session: Session, account_id: int) -> list[OpenLot]:
    """Lots with points left, oldest first (the order they are spent in)."""
    rows = session.execute(
        select(lot_t.c.id, lot_t.c.remaining, lot_t.c.expires_at)
        .where(lot_t.c.account_id == account_id, lot_t.c.remaining > 0)
        .order_by(lot_t.c.id)
    )
    return [OpenLot(int(r[0]), int(r[1]), r[2]) for r in rows]


def take_from_lot(
    *, session: Session, lot_id: int, expected_remaining: int, points: int, transaction_id: int
) -> bool:
    """Move ``points`` out of a lot if it still holds ``expected_remaining``."""
    result = session.execute(
        update(lot_t)
        .where(lot_t.c.id == lot_id, lot_t.c.remaining == expected_remaining)
        .values(remaining=lot_t.c.remaining - points)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    session.execute(
        insert(movement_t).values(lot_id=lot_id, transaction_id=transaction_id, amount=-points)
    )
    return True


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


def transaction_by_key(*, session: Session, idempotency_key: str) -> TransactionRow | None:
    row = session.execute(
        select(*_txn_columns()).where(txn_t.c.idempotency_key == idempotency_key)
    ).first()
    return TransactionRow(*row) if row else None


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
