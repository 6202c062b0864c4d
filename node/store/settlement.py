"""SQL for settlement: periods, the statements sent, payments, and the
clearing entries and operations a statement is built from. No rules here.

Statements run at once (SQLAlchemy Core, never the ORM's unit of work), on the
transaction the caller owns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlmodel import Session

from node.store.federation_models import ClearingEntry, FederatedOperation
from node.store.settlement_models import (
    SentStatement,
    SettlementPayment,
    SettlementPeriodRecord,
)

period_t = SettlementPeriodRecord.__table__  # type: ignore[attr-defined]
statement_t = SentStatement.__table__  # type: ignore[attr-defined]
payment_t = SettlementPayment.__table__  # type: ignore[attr-defined]
clearing_t = ClearingEntry.__table__  # type: ignore[attr-defined]
operation_t = FederatedOperation.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class ClearingRow:
    ref: str
    kind: str
    creditor: str
    value_minor: int


def clearing_in_period(*, session: Session, peer: str, start: int, end: int) -> list[ClearingRow]:
    """The pair's clearing entries whose request ``iat`` is in ``[start, end)``, by ref."""
    rows = session.execute(
        select(clearing_t.c.ref, clearing_t.c.kind, clearing_t.c.creditor, clearing_t.c.value_minor)
        .where(
            clearing_t.c.peer == peer,
            clearing_t.c.request_iat >= start,
            clearing_t.c.request_iat < end,
        )
        .order_by(clearing_t.c.ref)
    )
    return [ClearingRow(str(r[0]), str(r[1]), str(r[2]), int(r[3])) for r in rows]


def unfinished_operations(*, session: Session, peer: str, start: int, end: int) -> int:
    """Operations with the pair in the period still waiting for their outcome."""
    found = session.execute(
        select(func.count()).where(
            operation_t.c.peer == peer,
            operation_t.c.request_iat >= start,
            operation_t.c.request_iat < end,
            operation_t.c.status.in_(("pending", "expired_unresolved")),
        )
    ).scalar_one()
    return int(found)


# -- periods ------------------------------------------------------------------------


def _period(row: Any) -> SettlementPeriodRecord:
    return SettlementPeriodRecord.model_validate(dict(row._mapping))


def period_by_bounds(
    *, session: Session, peer: str, start: int, end: int
) -> SettlementPeriodRecord | None:
    row = session.execute(
        select(period_t).where(
            period_t.c.peer == peer, period_t.c.period_start == start, period_t.c.period_end == end
        )
    ).first()
    return _period(row) if row else None


def overlapping_period(
    *, session: Session, peer: str, start: int, end: int
) -> SettlementPeriodRecord | None:
    """Another period of the pair that shares time with ``[start, end)``."""
    row = session.execute(
        select(period_t)
        .where(
            period_t.c.peer == peer,
            period_t.c.period_start < end,
            period_t.c.period_end > start,
        )
        .where((period_t.c.period_start != start) | (period_t.c.period_end != end))
        .order_by(period_t.c.period_start)
    ).first()
    return _period(row) if row else None


def period_by_public_id(*, session: Session, public_id: str) -> SettlementPeriodRecord | None:
    row = session.execute(select(period_t).where(period_t.c.public_id == public_id)).first()
    return _period(row) if row else None


def period_by_statement(*, session: Session, message_id: str) -> SettlementPeriodRecord | None:
    row = session.execute(
        select(period_t)
        .join(statement_t, statement_t.c.period_id == period_t.c.id)
        .where(statement_t.c.message_id == message_id)
    ).first()
    return _period(row) if row else None


def insert_period(
    *, session: Session, public_id: str, peer: str, start: int, end: int, status: str, now: datetime
) -> SettlementPeriodRecord:
    session.execute(
        insert(period_t).values(
            public_id=public_id,
            peer=peer,
            period_start=start,
            period_end=end,
            status=status,
            paid_minor=0,
            created_at=now,
            updated_at=now,
        )
    )
    found = period_by_public_id(session=session, public_id=public_id)
    assert found is not None
    return found


def update_period(
    *,
    session: Session,
    period_id: int,
    status: str,
    statement_id: str | None,
    net_minor: int | None,
    differing: str | None,
    paid_minor: int,
    now: datetime,
) -> None:
    session.execute(
        update(period_t)
        .where(period_t.c.id == period_id)
        .values(
            status=status,
            statement_id=statement_id,
            net_minor=net_minor,
            differing=differing,
            paid_minor=paid_minor,
            updated_at=now,
        )
    )


def periods(*, session: Session, peer: str | None, limit: int) -> list[SettlementPeriodRecord]:
    query = select(period_t)
    if peer is not None:
        query = query.where(period_t.c.peer == peer)
    rows = session.execute(
        query.order_by(period_t.c.period_start.desc(), period_t.c.peer).limit(limit)
    )
    return [_period(row) for row in rows]


# -- statements and payments ---------------------------------------------------------


def insert_statement(
    *,
    session: Session,
    message_id: str,
    period_id: int,
    net_minor: int,
    entries: int,
    now: datetime,
) -> None:
    session.execute(
        insert(statement_t).values(
            message_id=message_id,
            period_id=period_id,
            net_minor=net_minor,
            entries=entries,
            sent_at=now,
        )
    )


def record_answer(
    *,
    session: Session,
    message_id: str,
    outcome: str,
    reason: str | None,
    answer_net_minor: int | None,
    differing: str | None,
    now: datetime,
) -> None:
    session.execute(
        update(statement_t)
        .where(statement_t.c.message_id == message_id, statement_t.c.outcome.is_(None))
        .values(
            outcome=outcome,
            reason=reason,
            answer_net_minor=answer_net_minor,
            differing=differing,
            answered_at=now,
        )
    )


def statements_of(*, session: Session, period_ids: Sequence[int]) -> list[SentStatement]:
    if not period_ids:
        return []
    rows = session.execute(
        select(statement_t)
        .where(statement_t.c.period_id.in_(list(period_ids)))
        .order_by(statement_t.c.id)
    )
    return [SentStatement.model_validate(dict(row._mapping)) for row in rows]


def insert_payment(
    *,
    session: Session,
    public_id: str,
    period_id: int,
    amount_minor: int,
    payer: str,
    reference: str,
    recorded_by: str,
    now: datetime,
) -> None:
    session.execute(
        insert(payment_t).values(
            public_id=public_id,
            period_id=period_id,
            amount_minor=amount_minor,
            payer=payer,
            reference=reference,
            recorded_by=recorded_by,
            created_at=now,
        )
    )


def payments_of(*, session: Session, period_ids: Sequence[int]) -> list[SettlementPayment]:
    if not period_ids:
        return []
    rows = session.execute(
        select(payment_t)
        .where(payment_t.c.period_id.in_(list(period_ids)))
        .order_by(payment_t.c.id)
    )
    return [SettlementPayment.model_validate(dict(row._mapping)) for row in rows]
