"""Refunds and returns: take back what a purchase earned, never below zero.

A refund names the purchase (by its earn transaction id or the till's order
ref) and an amount. The points taken back are in proportion to the share of
the purchase refunded so far, computed on the running total so partial
refunds add up exactly: after refunding ``r`` of an ``a`` purchase that
earned ``p`` points, ``floor(p x r / a)`` points have been taken back in all.
Refunding the whole purchase therefore takes back exactly ``p``. Cashback is
taken back the same way. The refunded amount also stops counting towards the
member's tier spend (at the next review: tiers only move down at a review).

Points the member already spent cannot come back out of a balance of zero:
what the balance does not cover is recorded as debt (a ``debt:<id>``
account), and the member's next earnings repay it before anything reaches
their balance (node.services.ledger.credit_points_txn).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from node.clock import isoformat
from node.errors import Conflict, NotFound, ValidationFailed
from node.ids import new_id
from node.services import ledger, store_credit
from node.services.customers import require_active_txn
from node.services.idempotency import Answer, Unit, idempotent_unit
from node.store import ledger as ledger_store
from node.store import purchases as store


def refund_unit(
    *,
    customer_id: str,
    transaction_id: str | None,
    order_ref: str | None,
    amount: int,
    reference: str | None,
    idempotency_key: str,
    now: datetime,
    actor: str | None = None,
) -> Unit:
    if (transaction_id is None) == (order_ref is None):
        raise ValidationFailed(
            "name the purchase by transaction_id or by order_ref (one of them)",
            field="transaction_id",
        )
    request: dict[str, Any] = {
        "customer_id": customer_id,
        "transaction_id": transaction_id,
        "order_ref": order_ref,
        "amount": amount,
        "reference": reference,
    }

    def work(session: Session) -> Answer:
        require_active_txn(session=session, customer_id=customer_id)
        found = store.find_purchase(
            session=session,
            customer_id=customer_id,
            transaction_id=transaction_id,
            order_ref=order_ref,
        )
        field = "transaction_id" if transaction_id is not None else "order_ref"
        if not found:
            raise NotFound("this member has no such purchase", field=field)
        if len(found) > 1:
            raise Conflict(
                "several purchases of this member have this order_ref; use transaction_id",
                field="order_ref",
                code="ambiguous_purchase",
            )
        purchase = found[0]
        after = store.add_refund(session=session, purchase_id=purchase.id, amount=amount)
        if after is None:
            raise Conflict(
                "the refund is more than what is left to refund of this purchase",
                field="amount",
                code="refund_exceeds_purchase",
            )
        points_due = after.points * after.refunded_amount // after.amount
        cash_due = after.cashback * after.refunded_amount // after.amount
        points = points_due - after.reversed_points
        cashback = cash_due - after.reversed_cashback
        store.set_reversed(
            session=session,
            purchase_id=purchase.id,
            reversed_points=points_due,
            reversed_cashback=cash_due,
        )
        reversal = None
        if points:
            reversal = ledger.reverse_points_txn(
                session=session,
                customer_id=customer_id,
                points=points,
                kind="refund",
                target_account=ledger.ISSUED,
                idempotency_key=f"api:{idempotency_key}",
                reference=reference,
                now=now,
                actor=actor,
            )
        cash_owed = 0
        if cashback:
            _, cash_owed = store_credit.take_back_cashback_txn(
                session=session,
                customer_id=customer_id,
                amount=cashback,
                currency=purchase.currency,
                reference=reference,
                now=now,
                actor=actor,
            )
        public_id = new_id("rfd")
        store.insert_refund(
            session=session,
            public_id=public_id,
            purchase_id=purchase.id,
            customer_id=customer_id,
            transaction_id=reversal.posted.id if reversal else None,
            amount=amount,
            points=points,
            debt_points=reversal.owed if reversal else 0,
            cashback=cashback,
            debt_cashback=cash_owed,
            reference=reference,
            now=now,
        )
        state = ledger_store.customer_state(session=session, customer_id=customer_id, now=now)
        assert state is not None
        body = {
            "customer_id": customer_id,
            "refund": {
                "id": public_id,
                "transaction_id": reversal.posted.public_id if reversal else None,
                "purchase_transaction_id": purchase.transaction_public_id,
                "amount": amount,
                "points": points,
                "debt_points": reversal.owed if reversal else 0,
                "cashback": cashback,
                "debt_cashback": cash_owed,
                "reference": reference,
                "created_at": isoformat(now),
            },
            "balance": state.balance,
            "debt": state.debt,
        }
        return Answer(201, body)

    return idempotent_unit(
        key=idempotency_key, operation="refund", request=request, now=now, work=work
    )
