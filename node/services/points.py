"""What the till does: earn on a purchase, redeem points, read balance and history.

Each write runs through node.services.idempotency, so a till that retries
(after a timeout, say) never earns or redeems twice.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from node.clock import isoformat
from node.db import Database
from node.errors import RequestError, ValidationFailed
from node.services import ledger
from node.services.customers import require_active_txn
from node.services.idempotency import Answer, Unit, idempotent_unit, run_idempotent
from node.settings import Settings
from node.store import ledger as ledger_store
from node.store import purchases as purchase_store


def points_for_purchase(amount: int, settings: Settings) -> int:
    """Base earn: whole points for the amount, rounded down.

    ``amount`` is in minor units (øre for DKK); with 1 point per krone a
    purchase of 123.45 DKK (12345 øre) earns 123 points.
    """
    minor_per_unit = int(10**settings.currency_exponent)
    return amount * settings.points_per_currency_unit // minor_per_unit


def _transaction_json(posted: ledger.PostedTransaction, reference: str | None) -> dict[str, Any]:
    return {
        "id": posted.public_id,
        "kind": posted.kind,
        "points": posted.points,
        "reference": reference,
        "created_at": isoformat(posted.created_at),
    }


def record_purchase(db: Database, settings: Settings, **request: Any) -> Answer:
    """Earn at the base rate for one purchase, once per Idempotency-Key."""
    return run_idempotent(db, purchase_unit(settings, **request))


def purchase_unit(
    settings: Settings,
    *,
    customer_id: str,
    amount: int,
    currency: str,
    order_ref: str | None,
    idempotency_key: str,
    now: datetime,
    actor: str | None = None,
) -> Unit:
    if currency != settings.currency:
        raise ValidationFailed(
            f"this node takes purchases in {settings.currency}", field="currency"
        )
    request = {
        "customer_id": customer_id,
        "amount": amount,
        "currency": currency,
        "order_ref": order_ref,
    }

    def work(session: Session) -> Answer:
        points = points_for_purchase(amount, settings)
        posted = ledger.credit_points_txn(
            session=session,
            customer_id=customer_id,
            points=points,
            kind="earn",
            source_account=ledger.ISSUED,
            idempotency_key=f"api:{idempotency_key}",
            reference=order_ref,
            now=now,
            expiry_days=settings.point_expiry_days,
            actor=actor,
        )
        purchase_store.insert_purchase(
            session=session,
            customer_id=customer_id,
            transaction_id=posted.id,
            order_ref=order_ref,
            amount=amount,
            currency=currency,
            points=points,
            occurred_at=now,
        )
        body = {
            "customer_id": customer_id,
            "transaction": _transaction_json(posted, order_ref),
            "purchase": {"amount": amount, "currency": currency, "order_ref": order_ref},
            "balance": posted.balance,
        }
        return Answer(201, body)

    return idempotent_unit(
        key=idempotency_key, operation="purchase", request=request, now=now, work=work
    )


def redeem_points(db: Database, **request: Any) -> Answer:
    """Spend points (oldest first), once per Idempotency-Key."""
    return run_idempotent(db, redemption_unit(**request))


def redemption_unit(
    *,
    customer_id: str,
    points: int,
    reference: str | None,
    idempotency_key: str,
    now: datetime,
    actor: str | None = None,
) -> Unit:
    request = {"customer_id": customer_id, "points": points, "reference": reference}

    def work(session: Session) -> Answer:
        posted = ledger.debit_points_txn(
            session=session,
            customer_id=customer_id,
            points=points,
            kind="redeem",
            target_account=ledger.REDEEMED,
            idempotency_key=f"api:{idempotency_key}",
            reference=reference,
            now=now,
            actor=actor,
        )
        body = {
            "customer_id": customer_id,
            "transaction": _transaction_json(posted, reference),
            "balance": posted.balance,
        }
        return Answer(201, body)

    return idempotent_unit(
        key=idempotency_key, operation="redemption", request=request, now=now, work=work
    )


@dataclass(frozen=True)
class HistoryPage:
    items: list[dict[str, Any]]
    next_cursor: str | None


def _encode_cursor(row_id: int) -> str:
    return base64.urlsafe_b64encode(f"before:{row_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = text.partition(":")
        if kind != "before":
            raise ValueError
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise RequestError("the cursor is not one this API returned", field="cursor") from None


def customer_history(
    db: Database, *, customer_id: str, limit: int, cursor: str | None
) -> HistoryPage:
    """A page of a customer's transactions, newest first."""
    before = _decode_cursor(cursor) if cursor else None
    with db.read() as session:
        require_active_txn(session=session, customer_id=customer_id)
        rows = ledger_store.customer_transactions(
            session=session, customer_id=customer_id, before_id=before, limit=limit + 1
        )
    more = len(rows) > limit
    rows = rows[:limit]
    items = [
        {
            "id": row.public_id,
            "kind": row.kind,
            "points": row.points,
            "reference": row.reference,
            "created_at": isoformat(row.created_at),
        }
        for row in rows
    ]
    return HistoryPage(items, _encode_cursor(rows[-1].id) if more and rows else None)
