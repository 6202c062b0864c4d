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


@dataclass(frozen=True)
class _CreditState:
    account_id: int | None
    balance: int
    debt_account_id: int | None
    debt: int


def _state_txn(*, session: Session, customer_id: str) -> _CreditState:
    """A member's store-credit account and debt account, if they exist, in one read."""
    credit, owed = credit_account_code(customer_id), credit_debt_code(customer_id)
    found = ledger_store.account_balances(session=session, codes=(credit, owed))
    account, debt = found.get(credit), found.get(owed)
    return _CreditState(
        account[0] if account else None,
        account[1] if account else 0,
        debt[0] if debt else None,
        -debt[1] if debt else 0,
    )


def _member_account_txn(
    *, session: Session, known: int | None, code: str, currency: str, kind: str, now: datetime
) -> int:
    if known is not None:
        return known
    return ledger.system_account_txn(session=session, code=code, now=now, unit=currency, kind=kind)


def _move_txn(
    *,
    session: Session,
    customer_id: str,
    kind: str,
    issued: int,
    to_balance: int,
    to_debt: int,
    state: _CreditState,
    currency: str,
    reference: str | None,
    now: datetime,
    actor: str | None,
) -> ledger.PostedTransaction:
    """One store-credit transaction: ``credit:issued`` against the member's two accounts."""
    issued_id = ledger.system_account_txn(session=session, code=ISSUED, now=now, unit=currency)
    postings = [ledger.Posting(issued_id, issued)]
    if to_balance:
        account = _member_account_txn(
            session=session,
            known=state.account_id,
            code=credit_account_code(customer_id),
            currency=currency,
            kind="credit",
            now=now,
        )
        postings.append(ledger.Posting(account, to_balance, guarded=True))
    if to_debt:
        debt_account = _member_account_txn(
            session=session,
            known=state.debt_account_id,
            code=credit_debt_code(customer_id),
            currency=currency,
            kind="credit_debt",
            now=now,
        )
        postings.append(ledger.Posting(debt_account, to_debt, running=True))
    return ledger.post_transaction_txn(
        session=session,
        kind=kind,
        customer_id=customer_id,
        points=0,
        postings=postings,
        idempotency_key=None,
        reference=reference,
        now=now,
        actor=actor,
    )


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
    state = _state_txn(session=session, customer_id=customer_id)
    repay = min(amount, state.debt)
    return _move_txn(
        session=session,
        customer_id=customer_id,
        kind="cashback",
        issued=-amount,
        to_balance=amount - repay,
        to_debt=repay,
        state=state,
        currency=currency,
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
    state = _state_txn(session=session, customer_id=customer_id)
    taken = min(state.balance, amount)
    owed = amount - taken
    _move_txn(
        session=session,
        customer_id=customer_id,
        kind="cashback-refund",
        issued=amount,
        to_balance=-taken,
        to_debt=-owed,
        state=state,
        currency=currency,
        reference=reference,
        now=now,
        actor=actor,
    )
    return taken, owed


def credit_balance(db: Database, *, customer_id: str, currency: str) -> CreditBalance:
    with db.read() as session:
        require_active_txn(session=session, customer_id=customer_id)
        state = _state_txn(session=session, customer_id=customer_id)
    return CreditBalance(customer_id, currency, state.balance, state.debt)


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
        spent = ledger.system_account_txn(session=session, code=SPENT, now=now, unit=node_currency)
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
