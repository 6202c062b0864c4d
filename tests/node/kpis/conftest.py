"""Helpers for the KPI tests: ledger kinds that have no service of their own yet."""

from __future__ import annotations

import uuid

from sqlmodel import Session

from node.clock import Clock
from node.db import Database
from node.services import ledger


def post_points(db: Database, clock: Clock, customer_id: str, kind: str, points: int) -> None:
    """A ledger transaction of ``kind`` through the ledger service: + credits, - debits.

    Stands in for bonuses, engagement actions and reward vouchers (and their
    return) until their services exist; the KPIs only read the kind and points.
    """

    def unit(session: Session) -> None:
        key = f"test:{kind}:{uuid.uuid4()}"
        if points > 0:
            source = ledger.REDEEMED if kind == "reward-return" else ledger.ISSUED
            ledger.credit_points_txn(
                session=session,
                customer_id=customer_id,
                points=points,
                kind=kind,
                source_account=source,
                idempotency_key=key,
                reference=None,
                now=clock.now(),
                expiry_days=0,
            )
        else:
            ledger.debit_points_txn(
                session=session,
                customer_id=customer_id,
                points=-points,
                kind=kind,
                target_account=ledger.REDEEMED,
                idempotency_key=key,
                reference=None,
                now=clock.now(),
            )

    db.write(unit)
