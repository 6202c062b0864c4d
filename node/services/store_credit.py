"""Cashback as store credit: a second balance, in money, beside the points.

Why money and not points (docs/program.md, "Cashback"): cashback is promised
as a share of what the member paid ("2 % back"), so its value must not move
when the program changes the points' earn rate or the consortium changes the
point value, and it must not expire with the points. So store credit is kept
in minor units of the node's currency on its own ledger accounts:

====================  ========================================================
``credit:<id>``       a member's store credit (never < 0)
``credit-debt:<id>``  store credit a refund took back after it was spent
                      (never > 0; later cashback repays it first)
``credit:issued``     contra account: all store credit ever given
``credit:spent``      store credit members paid with at the till
====================  ========================================================

These accounts have the currency as their unit, so their entries balance
among themselves and never mix with points.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from node.clock import isoformat
from node.db import Database
from node.errors import InsufficientPoints, ValidationFailed
from node.services import ledger
from node.services.customers import require_active_txn
from node.services.idempotency import Answer, Unit, idempotent_unit
from node.store import ledger as ledger_store

ISSUED = "credit:issued"
SPENT = "credit:spent"


def credit_account_code(customer_id: str) -> str:
    return f"credit:{customer_id}"


def credit_debt_code(customer_id: str) -> str:
    return f"credit-debt:{customer_id}"


@dataclass(frozen=True)
class CreditBalance:
    customer_id: str
    currency: str
    balance: int
    debt: int


def _account_txn(*, session: Session, code: str, currency: str, kind: str, now: datetime) -> int:
    return ledger.system_account_txn(session=session, code=code, now=now, unit=currency, kind=kind)


def _state_txn(*, session: Session, customer_id: str) -> tuple[int, int]:
    """(balance, debt) of a member's store credit."""
    found = ledger_store.account_balance(session=session, code=credit_account_code(customer_id))
    owed = ledger_store.account_balance(session=session, code=credit_debt_code(customer_id))
    return (found[1] if found else 0), (-owed[1] if owed else 0)


def give_cashback_txn(
    *,
    session: Session,
    customer_id: str,
    amount: int,
    currency: str,
    reference: str | None,
    now: datetime,
    actor: str | None,
) -> ledger.PostedTransaction:
    """Give ``amount`` minor units of store credit; any store-credit debt is repaid first."""
    _, debt = _state_txn(session=session, customer_id=customer_id)
    repay = min(amount, debt)
    postings = [
        ledger.Posting(
            _account_txn(session=session, code=ISSUED, currency=currency, kind="system", now=now),
            -amount,
        )
    ]
    if amount - repay:
        account = _account_txn(
            session=session,
            code=credit_account_code(customer_id),
            currency=currency,
            kind="credit",
            now=now,
        )
        postings.append(ledger.Posting(account, amount - repay, guarded=True))
    if repay:
        debt_account = _account_txn(
            session=session,
            code=credit_debt_code(customer_id),
            currency=currency,
            kind="credit_debt",
            now=now,
        )
        postings.append(ledger.Posting(debt_account, repay, running=True))
    return ledger.post_transaction_txn(
        session=session,
        kind="cashback",
        customer_id=customer_id,
        points=0,
        postings=postings,
        idempotency_key=None,
        reference=reference,
        now=now,
        actor=actor,
    )


def take_back_cashback_txn(
    *,
    session: Session,
    customer_id: str,
    amount: int,
    currency: str,
    reference: str | None,
    now: datetime,
    actor: str | None,
) -> tuple[int, int]:
    """Reverse ``amount`` of cashback (a refund); returns (taken, owed)."""
    balance, _ = _state_txn(session=session, customer_id=customer_id)
    taken = min(balance, amount)
    owed = amount - taken
    postings = [
        ledger.Posting(
            _account_txn(session=session, code=ISSUED, currency=currency, kind="system", now=now),
            amount,
        )
    ]
    if taken:
        account = _account_txn(
            session=session,
            code=credit_account_code(customer_id),
            currency=currency,
            kind="credit",
            now=now,
        )
        postings.append(ledger.Posting(account, -taken, guarded=True))
    if owed:
        debt_account = _account_txn(
            session=session,
            code=credit_debt_code(customer_id),
            currency=currency,
            kind="credit_debt",
            now=now,
        )
        postings.append(ledger.Posting(debt_account, -owed, running=True))
    ledger.post_transaction_txn(
        session=session,
        kind="cashback-refund",
        customer_id=customer_id,
        points=0,
        postings=postings,
        idempotency_key=None,
        reference=reference,
        now=now,
        actor=actor,
    )
    return taken, owed


def credit_balance(db: Database, *, customer_id: str, currency: str) -> CreditBalance:
    with db.read() as session:
        require_active_txn(session=session, customer_id=customer_id)
        balance, debt = _state_txn(session=session, customer_id=customer_id)
    return CreditBalance(customer_id, currency, balance, debt)


def spend_unit(
    *,
    customer_id: str,
    amount: int,
    currency: str,
    node_currency: str,
    reference: str | None,
    idempotency_key: str,
    now: datetime,
    actor: str | None = None,
) -> Unit:
    """Pay ``amount`` minor units with store credit at the till, once per key."""
    request: dict[str, Any] = {
        "customer_id": customer_id,
        "amount": amount,
        "currency": currency,
        "reference": reference,
    }

    def work(session: Session) -> Answer:
        if currency != node_currency:
            raise ValidationFailed(f"store credit is held in {node_currency}", field="currency")
        require_active_txn(session=session, customer_id=customer_id)
        found = ledger_store.account_balance(session=session, code=credit_account_code(customer_id))
        short = InsufficientPoints(
            "the store credit does not cover this amount",
            field="amount",
            code="insufficient_credit",
        )
        if found is None:
            raise short
        spent = _account_txn(
            session=session, code=SPENT, currency=node_currency, kind="system", now=now
        )
        try:
            posted = ledger.post_transaction_txn(
                session=session,
                kind="credit-spend",
                customer_id=customer_id,
                points=0,
                postings=[
                    ledger.Posting(found[0], -amount, guarded=True),
                    ledger.Posting(spent, amount),
                ],
                idempotency_key=None,
                reference=reference,
                now=now,
                actor=actor,
            )
        except InsufficientPoints:
            raise short from None
        body = {
            "customer_id": customer_id,
            "transaction": {
                "id": posted.public_id,
                "kind": posted.kind,
                "amount": -amount,
                "currency": node_currency,
                "reference": reference,
                "created_at": isoformat(now),
            },
            "balance": posted.balance,
        }
        return Answer(201, body)

    return idempotent_unit(
        key=idempotency_key, operation="credit-spend", request=request, now=now, work=work
    )
