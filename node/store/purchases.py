"""SQL for purchases recorded at the till (amounts in minor units)."""

from __future__ import annotations

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
) -> None:
    sql = raw(session)
    sql.execute(
        "INSERT INTO purchase (customer_id, transaction_id, order_ref, amount, currency, points,"
        " occurred_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (customer_id, transaction_id, order_ref, amount, currency, points, sql.time(occurred_at)),
    )
