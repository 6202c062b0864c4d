"""SQL for retention: finding what is past its retention, removing it, run records.

Every finder takes a ``cutoff`` and a ``limit`` and returns opaque ids, oldest
first, so a run streams through a large table in batches of ``limit``. Every
remover is idempotent: removing an id twice (a repeated run, or two processes
at once) changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, delete, exists, func, insert, not_, or_, select, update
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from node.store.federation_models import FederatedOperation, InboxMessage, OutboxMessage
from node.store.models import Account, Customer, LedgerTransaction, PointLot, Purchase
from node.store.program_models import (
    BonusAward,
    CustomerTier,
    ExpiryWarning,
    PurchaseLine,
    Referral,
    Refund,
    Voucher,
)
from node.store.retention_models import RetentionAnonymisedCustomer, RetentionRun
from node.store.settlement_models import SettlementPeriodRecord

customer_t = Customer.__table__  # type: ignore[attr-defined]
transaction_t = LedgerTransaction.__table__  # type: ignore[attr-defined]
account_t = Account.__table__  # type: ignore[attr-defined]
lot_t = PointLot.__table__  # type: ignore[attr-defined]
purchase_t = Purchase.__table__  # type: ignore[attr-defined]
line_t = PurchaseLine.__table__  # type: ignore[attr-defined]
refund_t = Refund.__table__  # type: ignore[attr-defined]
voucher_t = Voucher.__table__  # type: ignore[attr-defined]
referral_t = Referral.__table__  # type: ignore[attr-defined]
tier_t = CustomerTier.__table__  # type: ignore[attr-defined]
bonus_t = BonusAward.__table__  # type: ignore[attr-defined]
warning_t = ExpiryWarning.__table__  # type: ignore[attr-defined]
operation_t = FederatedOperation.__table__  # type: ignore[attr-defined]
inbox_t = InboxMessage.__table__  # type: ignore[attr-defined]
outbox_t = OutboxMessage.__table__  # type: ignore[attr-defined]
period_t = SettlementPeriodRecord.__table__  # type: ignore[attr-defined]
run_t = RetentionRun.__table__  # type: ignore[attr-defined]
anonymised_t = RetentionAnonymisedCustomer.__table__  # type: ignore[attr-defined]

#: Settlement period states in which the pair's records are reconciled for good.
AGREED_STATES = ("agreed", "settled")


# -- members by last activity -------------------------------------------------------


def _members_idle_since(status: str, cutoff: datetime) -> ColumnElement[bool]:
    """Members in ``status``, enrolled before ``cutoff``, with no transaction since."""
    recent = exists().where(
        transaction_t.c.customer_id == customer_t.c.id, transaction_t.c.created_at >= cutoff
    )
    return and_(customer_t.c.status == status, customer_t.c.created_at < cutoff, not_(recent))


def idle_members(*, session: Session, status: str, cutoff: datetime, limit: int) -> list[str]:
    """Up to ``limit`` members in ``status`` with no activity since ``cutoff``, oldest first."""
    query = (
        select(customer_t.c.id)
        .where(_members_idle_since(status, cutoff))
        .order_by(customer_t.c.created_at, customer_t.c.id)
        .limit(limit)
    )
    return list(session.execute(query).scalars())


def count_idle_members(*, session: Session, status: str, cutoff: datetime) -> int:
    query = select(func.count()).select_from(customer_t).where(_members_idle_since(status, cutoff))
    return int(session.execute(query).scalar_one())


def _not_anonymised() -> ColumnElement[bool]:
    return not_(exists().where(anonymised_t.c.customer_id == customer_t.c.id))


def erased_members_due(*, session: Session, cutoff: datetime, limit: int) -> list[str]:
    """Erased members idle since ``cutoff`` whose details are not yet anonymised."""
    query = (
        select(customer_t.c.id)
        .where(_members_idle_since("erased", cutoff), _not_anonymised())
        .order_by(customer_t.c.created_at, customer_t.c.id)
        .limit(limit)
    )
    return list(session.execute(query).scalars())


def count_erased_members_due(*, session: Session, cutoff: datetime) -> int:
    query = (
        select(func.count())
        .select_from(customer_t)
        .where(_members_idle_since("erased", cutoff), _not_anonymised())
    )
    return int(session.execute(query).scalar_one())


def anonymise_transaction_details(
    *, session: Session, customer_ids: Sequence[str], now: datetime
) -> dict[str, int]:
    """Strip the details that tie these (erased) members' ids to behaviour.

    The ledger (transactions, entries, accounts, lots, lot movements) and the
    tier history (``tier_change``) stay: they are append-only (database
    triggers) and hold amounts and tier names under the opaque id only.
    Returns rows changed per table. Only members not anonymised before count.
    """
    ids = list(customer_ids)
    if not ids:
        return {}
    done = select(anonymised_t.c.customer_id).where(anonymised_t.c.customer_id.in_(ids))
    ids = sorted(set(ids) - set(session.execute(done).scalars()))
    if not ids:
        return {}
    purchases = select(purchase_t.c.id).where(purchase_t.c.customer_id.in_(ids))
    lots = select(lot_t.c.id).where(
        lot_t.c.account_id.in_(select(account_t.c.id).where(account_t.c.customer_id.in_(ids)))
    )
    statements = {
        "purchase_line": delete(line_t).where(line_t.c.purchase_id.in_(purchases)),
        "purchase": update(purchase_t)
        .where(purchase_t.c.customer_id.in_(ids), purchase_t.c.order_ref.is_not(None))
        .values(order_ref=None),
        "refund": update(refund_t)
        .where(refund_t.c.customer_id.in_(ids), refund_t.c.reference.is_not(None))
        .values(reference=None),
        "voucher": delete(voucher_t).where(voucher_t.c.customer_id.in_(ids)),
        "referral": delete(referral_t).where(
            or_(referral_t.c.referred_id.in_(ids), referral_t.c.referrer_id.in_(ids))
        ),
        "customer_tier": delete(tier_t).where(tier_t.c.customer_id.in_(ids)),
        "bonus_award": delete(bonus_t).where(bonus_t.c.customer_id.in_(ids)),
        "expiry_warning": delete(warning_t).where(warning_t.c.lot_id.in_(lots)),
        "federated_operation": update(operation_t)
        .where(operation_t.c.customer_id.in_(ids), operation_t.c.detail.is_not(None))
        .values(detail=None),
    }
    changed: dict[str, int] = {}
    for table, statement in statements.items():
        changed[table] = max(session.execute(statement).rowcount or 0, 0)  # type: ignore[attr-defined]
    session.execute(insert(anonymised_t), [{"customer_id": i, "anonymised_at": now} for i in ids])
    changed["customers"] = len(ids)
    return changed


# -- federation messages ------------------------------------------------------------


@dataclass(frozen=True)
class OpenPeriod:
    """A settlement period not yet agreed: its messages are still evidence."""

    peer: str
    start: int
    end: int
    statement_id: str | None


def open_periods(*, session: Session) -> list[OpenPeriod]:
    rows = session.execute(
        select(
            period_t.c.peer, period_t.c.period_start, period_t.c.period_end, period_t.c.statement_id
        ).where(period_t.c.status.not_in(AGREED_STATES))
    )
    return [OpenPeriod(r[0], int(r[1]), int(r[2]), r[3]) for r in rows]


def _inbox_held(periods: Sequence[OpenPeriod]) -> list[ColumnElement[bool]]:
    held: list[ColumnElement[bool]] = []
    for p in periods:
        held.append(
            and_(
                inbox_t.c.issuer == p.peer,
                inbox_t.c.request_iat >= p.start,
                inbox_t.c.request_iat < p.end,
            )
        )
    return held


def _outbox_held(periods: Sequence[OpenPeriod]) -> list[ColumnElement[bool]]:
    held: list[ColumnElement[bool]] = []
    statements = [p.statement_id for p in periods if p.statement_id]
    if statements:
        held.append(outbox_t.c.message_id.in_(statements))
    for p in periods:
        held.append(
            and_(
                outbox_t.c.destination == p.peer,
                outbox_t.c.created_at >= _moment(p.start),
                outbox_t.c.created_at < _moment(p.end),
            )
        )
    return held


def _moment(unix_seconds: int) -> datetime:
    return datetime.fromtimestamp(unix_seconds, UTC)


def inbox_due(
    *, session: Session, cutoff: datetime, periods: Sequence[OpenPeriod], limit: int
) -> list[tuple[datetime, str, str]]:
    """(received_at, issuer, message_id) of inbox rows past ``cutoff`` and not held."""
    query = select(inbox_t.c.received_at, inbox_t.c.issuer, inbox_t.c.message_id).where(
        inbox_t.c.received_at < cutoff
    )
    held = _inbox_held(periods)
    if held:
        query = query.where(not_(or_(*held)))
    query = query.order_by(inbox_t.c.received_at, inbox_t.c.issuer, inbox_t.c.message_id)
    return [(r[0], r[1], r[2]) for r in session.execute(query.limit(limit))]


def outbox_due(
    *, session: Session, cutoff: datetime, periods: Sequence[OpenPeriod], limit: int
) -> list[tuple[datetime, int]]:
    """(created_at, id) of answered outbox rows created before ``cutoff`` and not held."""
    query = select(outbox_t.c.created_at, outbox_t.c.id).where(
        outbox_t.c.status == "answered", outbox_t.c.created_at < cutoff
    )
    held = _outbox_held(periods)
    if held:
        query = query.where(not_(or_(*held)))
    query = query.order_by(outbox_t.c.created_at, outbox_t.c.id)
    return [(r[0], int(r[1])) for r in session.execute(query.limit(limit))]


def count_messages_due(*, session: Session, cutoff: datetime, periods: Sequence[OpenPeriod]) -> int:
    inbox = select(func.count()).select_from(inbox_t).where(inbox_t.c.received_at < cutoff)
    if held := _inbox_held(periods):
        inbox = inbox.where(not_(or_(*held)))
    outbox = (
        select(func.count())
        .select_from(outbox_t)
        .where(outbox_t.c.status == "answered", outbox_t.c.created_at < cutoff)
    )
    if held_out := _outbox_held(periods):
        outbox = outbox.where(not_(or_(*held_out)))
    return int(session.execute(inbox).scalar_one()) + int(session.execute(outbox).scalar_one())


def delete_inbox(*, session: Session, keys: Sequence[tuple[str, str]]) -> int:
    deleted = 0
    for issuer, message_id in keys:
        result = session.execute(
            delete(inbox_t).where(inbox_t.c.issuer == issuer, inbox_t.c.message_id == message_id)
        )
        deleted += max(result.rowcount or 0, 0)  # type: ignore[attr-defined]
    return deleted


def delete_outbox(*, session: Session, ids: Sequence[int]) -> int:
    if not ids:
        return 0
    # Only final rows: a row that is somehow pending again is never deleted.
    result = session.execute(
        delete(outbox_t).where(outbox_t.c.id.in_(list(ids)), outbox_t.c.status == "answered")
    )
    return max(result.rowcount or 0, 0)  # type: ignore[attr-defined]


# -- run records --------------------------------------------------------------------


def insert_run(
    *,
    session: Session,
    public_id: str,
    dry_run: bool,
    trigger: str,
    actor: str,
    now: datetime,
) -> None:
    session.execute(
        insert(run_t).values(
            public_id=public_id, dry_run=dry_run, trigger=trigger, actor=actor, started_at=now
        )
    )


def finish_run(
    *, session: Session, public_id: str, categories: str, error: str | None, now: datetime
) -> None:
    session.execute(
        update(run_t)
        .where(run_t.c.public_id == public_id)
        .values(finished_at=now, categories=categories, error=error)
    )


def _run(row: Any) -> RetentionRun:
    return RetentionRun.model_validate(dict(row._mapping))


def run_by_public_id(*, session: Session, public_id: str) -> RetentionRun | None:
    row = session.execute(select(run_t).where(run_t.c.public_id == public_id)).first()
    return _run(row) if row else None


def runs(*, session: Session, limit: int) -> list[RetentionRun]:
    query = select(run_t).order_by(run_t.c.started_at.desc(), run_t.c.id.desc()).limit(limit)
    return [_run(row) for row in session.execute(query)]
