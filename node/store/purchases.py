"""SQL for purchases recorded at the till (amounts in minor units)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert
from sqlmodel import Session

from node.store.models import Purchase

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
) -> None:
    session.execute(
        insert(purchase_t).values(
            customer_id=customer_id,
            transaction_id=transaction_id,
            order_ref=order_ref,
            amount=amount,
            currency=currency,
            points=points,
            occurred_at=occurred_at,
        )
    )
