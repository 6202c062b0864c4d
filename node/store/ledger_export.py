"""SQL for the bookkeeper's ledger export: every entry of the transactions in a
time range, with its account code, in id order (keyset pages)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlmodel import Session

from node.store.models import Account, LedgerEntry, LedgerTransaction

txn_t = LedgerTransaction.__table__  # type: ignore[attr-defined]
entry_t = LedgerEntry.__table__  # type: ignore[attr-defined]
account_t = Account.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class EntryRow:
    entry_id: int
    transaction_id: str
    created_at: datetime
    kind: str
    account: str
    amount: int
    unit: str
    reference: str | None


def entries_between(
    *, session: Session, since: datetime, until: datetime, after_entry: int, limit: int
) -> list[EntryRow]:
    """Entries of transactions created in [since, until), after entry id ``after_entry``."""
    rows = session.execute(
        select(
            entry_t.c.id,
            txn_t.c.public_id,
            txn_t.c.created_at,
            txn_t.c.kind,
            account_t.c.code,
            entry_t.c.amount,
            account_t.c.unit,
            txn_t.c.reference,
        )
        .join(txn_t, entry_t.c.transaction_id == txn_t.c.id)
        .join(account_t, entry_t.c.account_id == account_t.c.id)
        .where(
            txn_t.c.created_at >= since,
            txn_t.c.created_at < until,
            entry_t.c.id > after_entry,
        )
        .order_by(entry_t.c.id)
        .limit(limit)
    )
    return [EntryRow(*row) for row in rows]


def count_entries_between(*, session: Session, since: datetime, until: datetime) -> int:
    """How many entries the transactions created in [since, until) have."""
    return int(
        session.execute(
            select(func.count())
            .select_from(entry_t.join(txn_t, entry_t.c.transaction_id == txn_t.c.id))
            .where(txn_t.c.created_at >= since, txn_t.c.created_at < until)
        ).scalar_one()
    )
