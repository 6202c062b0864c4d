"""Read-only SQL behind the access export: everything held on one member."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlmodel import Session

from node.store.federation_models import FederatedOperation, PartnerLink
from node.store.models import Account, Customer, LedgerEntry, LedgerTransaction, PointLot, Purchase
from node.store.program_models import CustomerTier, PurchaseLine, Voucher

account_t = Account.__table__  # type: ignore[attr-defined]
customer_t = Customer.__table__  # type: ignore[attr-defined]
entry_t = LedgerEntry.__table__  # type: ignore[attr-defined]
txn_t = LedgerTransaction.__table__  # type: ignore[attr-defined]
lot_t = PointLot.__table__  # type: ignore[attr-defined]
purchase_t = Purchase.__table__  # type: ignore[attr-defined]
line_t = PurchaseLine.__table__  # type: ignore[attr-defined]
tier_t = CustomerTier.__table__  # type: ignore[attr-defined]
voucher_t = Voucher.__table__  # type: ignore[attr-defined]
link_t = PartnerLink.__table__  # type: ignore[attr-defined]
operation_t = FederatedOperation.__table__  # type: ignore[attr-defined]

#: Ledger accounts of one member, by code prefix (see node.services.ledger, store_credit).
MEMBER_ACCOUNT_PREFIXES = ("customer", "debt", "credit", "credit_debt")


def _rows(session: Session, query: Any) -> list[dict[str, Any]]:
    return [dict(row) for row in session.execute(query).mappings()]


def account(*, session: Session, customer_id: str) -> list[dict[str, Any]]:
    query = (
        select(
            customer_t.c.id.label("customer_id"),
            customer_t.c.status,
            customer_t.c.created_at.label("enrolled_at"),
            tier_t.c.tier,
            tier_t.c.since.label("tier_since"),
            account_t.c.balance.label("points_balance"),
        )
        .outerjoin(tier_t, tier_t.c.customer_id == customer_t.c.id)
        .outerjoin(account_t, account_t.c.customer_id == customer_t.c.id)
        .where(customer_t.c.id == customer_id)
    )
    return _rows(session, query)


def ledger_entries(*, session: Session, customer_id: str) -> list[dict[str, Any]]:
    """Every entry on the member's own accounts, with its transaction."""
    codes = [f"{prefix}:{customer_id}" for prefix in MEMBER_ACCOUNT_PREFIXES]
    query = (
        select(
            txn_t.c.public_id.label("transaction_id"),
            txn_t.c.kind,
            txn_t.c.created_at,
            txn_t.c.reference,
            account_t.c.code.label("account"),
            account_t.c.unit,
            entry_t.c.amount,
        )
        .join(entry_t, entry_t.c.transaction_id == txn_t.c.id)
        .join(account_t, account_t.c.id == entry_t.c.account_id)
        .where(or_(account_t.c.customer_id == customer_id, account_t.c.code.in_(codes)))
        .order_by(txn_t.c.id, entry_t.c.id)
    )
    return _rows(session, query)


def point_lots(*, session: Session, customer_id: str) -> list[dict[str, Any]]:
    query = (
        select(lot_t.c.amount, lot_t.c.remaining, lot_t.c.earned_at, lot_t.c.expires_at)
        .join(account_t, account_t.c.id == lot_t.c.account_id)
        .where(account_t.c.customer_id == customer_id)
        .order_by(lot_t.c.id)
    )
    return _rows(session, query)


def purchases(*, session: Session, customer_id: str) -> list[dict[str, Any]]:
    c = purchase_t.c
    query = (
        select(
            txn_t.c.public_id.label("transaction_id"),
            c.order_ref,
            c.amount,
            c.currency,
            c.points,
            c.cashback,
            c.refunded_amount,
            c.reversed_points,
            c.occurred_at,
        )
        .join(txn_t, txn_t.c.id == c.transaction_id)
        .where(c.customer_id == customer_id)
        .order_by(c.id)
    )
    return _rows(session, query)


def purchase_lines(*, session: Session, customer_id: str) -> list[dict[str, Any]]:
    """The lines the till sent with the member's purchases: category, product, amount."""
    c = purchase_t.c
    query = (
        select(
            txn_t.c.public_id.label("transaction_id"),
            c.order_ref,
            c.occurred_at,
            line_t.c.category,
            line_t.c.product,
            line_t.c.amount,
        )
        .join(purchase_t, c.id == line_t.c.purchase_id)
        .join(txn_t, txn_t.c.id == c.transaction_id)
        .where(c.customer_id == customer_id)
        .order_by(c.id, line_t.c.id)
    )
    return _rows(session, query)


def vouchers(*, session: Session, customer_id: str) -> list[dict[str, Any]]:
    c = voucher_t.c
    query = (
        select(
            c.code,
            c.reward_code,
            c.points,
            c.status,
            c.issued_at,
            c.expires_at,
            c.used_at,
            c.cancelled_at,
        )
        .where(c.customer_id == customer_id)
        .order_by(c.id)
    )
    return _rows(session, query)


def links(*, session: Session, customer_id: str) -> list[dict[str, Any]]:
    c = link_t.c
    query = (
        select(
            c.partner,
            c.status,
            c.our_subject,
            c.partner_subject,
            c.created_at,
            c.revoked_at,
        )
        .where(c.customer_id == customer_id)
        .order_by(c.id)
    )
    return _rows(session, query)


def federated_operations(*, session: Session, customer_id: str) -> list[dict[str, Any]]:
    c = operation_t.c
    query = (
        select(
            c.peer,
            c.kind,
            c.direction,
            c.status,
            c.points,
            c.created_at,
        )
        .where(c.customer_id == customer_id)
        .order_by(c.id)
    )
    return _rows(session, query)
