"""Read-only SQL behind `konsort ledger verify`: each query lists violations."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlmodel import Session

from node.store.ledger import account_t, entry_t, lot_t, movement_t


def unbalanced_transactions(*, session: Session, limit: int = 20) -> list[tuple[int, int]]:
    """(transaction id, sum of its entries) where the sum is not zero."""
    rows = session.execute(
        select(entry_t.c.transaction_id, func.sum(entry_t.c.amount))
        .group_by(entry_t.c.transaction_id)
        .having(func.sum(entry_t.c.amount) != 0)
        .limit(limit)
    )
    return [(int(r[0]), int(r[1])) for r in rows]


def drifted_balances(*, session: Session, limit: int = 20) -> list[tuple[int, int, int]]:
    """(account id, stored balance, sum of entries) for running-balance accounts that differ."""
    sums = (
        select(entry_t.c.account_id, func.sum(entry_t.c.amount).label("total"))
        .group_by(entry_t.c.account_id)
        .subquery()
    )
    total = func.coalesce(sums.c.total, 0)
    rows = session.execute(
        select(account_t.c.id, account_t.c.balance, total)
        .outerjoin(sums, sums.c.account_id == account_t.c.id)
        .where(account_t.c.kind != "system", account_t.c.balance != total)
        .limit(limit)
    )
    return [(int(r[0]), int(r[1]), int(r[2])) for r in rows]


def negative_customer_balances(*, session: Session, limit: int = 20) -> list[tuple[int, int]]:
    """Member balances (points or store credit) below zero."""
    rows = session.execute(
        select(account_t.c.id, account_t.c.balance)
        .where(account_t.c.kind.in_(("customer", "credit")), account_t.c.balance < 0)
        .limit(limit)
    )
    return [(int(r[0]), int(r[1])) for r in rows]


def positive_debts(*, session: Session, limit: int = 20) -> list[tuple[int, int]]:
    """Debt accounts above zero (a debt is recorded as a negative balance)."""
    rows = session.execute(
        select(account_t.c.id, account_t.c.balance)
        .where(account_t.c.kind.in_(("debt", "credit_debt")), account_t.c.balance > 0)
        .limit(limit)
    )
    return [(int(r[0]), int(r[1])) for r in rows]


def ledger_totals_by_unit(*, session: Session) -> dict[str, int]:
    """Sum of every entry ever written, per unit; each is zero in a healthy ledger."""
    rows = session.execute(
        select(account_t.c.unit, func.coalesce(func.sum(entry_t.c.amount), 0))
        .join(entry_t, entry_t.c.account_id == account_t.c.id)
        .group_by(account_t.c.unit)
    )
    return {str(r[0]): int(r[1]) for r in rows}


def mixed_unit_transactions(*, session: Session, limit: int = 20) -> list[int]:
    """Transactions whose entries touch accounts of more than one unit."""
    rows = session.execute(
        select(entry_t.c.transaction_id)
        .join(account_t, account_t.c.id == entry_t.c.account_id)
        .group_by(entry_t.c.transaction_id)
        .having(func.count(func.distinct(account_t.c.unit)) > 1)
        .limit(limit)
    )
    return [int(r[0]) for r in rows]


def lots_out_of_step(*, session: Session, limit: int = 20) -> list[tuple[int, int, int, int]]:
    """(lot id, amount, remaining, movements) where amount + movements != remaining."""
    moved = (
        select(movement_t.c.lot_id, func.sum(movement_t.c.amount).label("moved"))
        .group_by(movement_t.c.lot_id)
        .subquery()
    )
    taken = func.coalesce(moved.c.moved, 0)
    rows = session.execute(
        select(lot_t.c.id, lot_t.c.amount, lot_t.c.remaining, taken)
        .outerjoin(moved, moved.c.lot_id == lot_t.c.id)
        .where(lot_t.c.amount + taken != lot_t.c.remaining)
        .limit(limit)
    )
    return [(int(r[0]), int(r[1]), int(r[2]), int(r[3])) for r in rows]


def accounts_not_covered_by_lots(
    *, session: Session, limit: int = 20
) -> list[tuple[int, int, int]]:
    """(account id, balance, open lot points) of customer accounts whose lots differ."""
    lots = (
        select(lot_t.c.account_id, func.sum(lot_t.c.remaining).label("held"))
        .group_by(lot_t.c.account_id)
        .subquery()
    )
    held = func.coalesce(lots.c.held, 0)
    rows = session.execute(
        select(account_t.c.id, account_t.c.balance, held)
        .outerjoin(lots, lots.c.account_id == account_t.c.id)
        .where(account_t.c.kind == "customer", account_t.c.balance != held)
        .limit(limit)
    )
    return [(int(r[0]), int(r[1]), int(r[2])) for r in rows]


def account_totals(*, session: Session) -> dict[str, int]:
    """Sum of entries per account kind plus the system accounts by code."""
    rows = session.execute(
        select(account_t.c.kind, account_t.c.code, func.coalesce(func.sum(entry_t.c.amount), 0))
        .outerjoin(entry_t, entry_t.c.account_id == account_t.c.id)
        .group_by(account_t.c.kind, account_t.c.code)
    )
    totals: dict[str, int] = {}
    for kind, code, amount in rows:
        name = code if kind == "system" else kind
        totals[name] = totals.get(name, 0) + int(amount)
    return totals
