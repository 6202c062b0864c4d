"""SQL of the data-subject request workflow; the caller owns the transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.engine import RowMapping
from sqlmodel import Session

from node.store.models import Customer, CustomerKey, CustomerProfile, LedgerTransaction
from node.store.request_models import SubjectRequest, SubjectRequestEvent

request_t = SubjectRequest.__table__  # type: ignore[attr-defined]
event_t = SubjectRequestEvent.__table__  # type: ignore[attr-defined]
customer_t = Customer.__table__  # type: ignore[attr-defined]
key_t = CustomerKey.__table__  # type: ignore[attr-defined]
profile_t = CustomerProfile.__table__  # type: ignore[attr-defined]
txn_t = LedgerTransaction.__table__  # type: ignore[attr-defined]

OPEN_STATES = ("received", "identity_verified", "approved")


def insert_request(*, session: Session, values: dict[str, Any]) -> int:
    result = session.execute(insert(request_t).values(**values).returning(request_t.c.id))
    return int(result.scalar_one())


def insert_event(
    *,
    session: Session,
    request_id: int,
    from_state: str | None,
    to_state: str,
    actor: str,
    note: str | None,
    at: datetime,
) -> None:
    session.execute(
        insert(event_t).values(
            request_id=request_id,
            from_state=from_state,
            to_state=to_state,
            actor=actor,
            note=note,
            at=at,
        )
    )


def request_by_public_id(
    *, session: Session, public_id: str, for_update: bool = False
) -> RowMapping | None:
    query = select(request_t).where(request_t.c.public_id == public_id)
    if for_update:
        query = query.with_for_update()
    return session.execute(query).mappings().first()


def request_by_id(*, session: Session, request_id: int) -> RowMapping:
    found = session.execute(select(request_t).where(request_t.c.id == request_id)).mappings()
    return found.one()


def update_request(*, session: Session, request_id: int, values: dict[str, Any]) -> None:
    session.execute(update(request_t).where(request_t.c.id == request_id).values(**values))


def events_of(*, session: Session, request_id: int) -> list[RowMapping]:
    rows = session.execute(
        select(event_t).where(event_t.c.request_id == request_id).order_by(event_t.c.id)
    )
    return list(rows.mappings())


def list_requests(
    *,
    session: Session,
    customer_id: str | None = None,
    state: str | None = None,
    type: str | None = None,
    overdue_at: datetime | None = None,
    after_id: int | None = None,
    limit: int = 50,
) -> list[RowMapping]:
    """Requests oldest first, keyset-paged by internal id.

    ``overdue_at`` keeps only open requests due before that moment.
    """
    conditions: list[Any] = []
    if customer_id is not None:
        conditions.append(request_t.c.customer_id == customer_id)
    if state is not None:
        conditions.append(request_t.c.state == state)
    if type is not None:
        conditions.append(request_t.c.type == type)
    if overdue_at is not None:
        conditions.append(request_t.c.state.in_(OPEN_STATES))
        conditions.append(request_t.c.due_at < overdue_at)
    if after_id is not None:
        conditions.append(request_t.c.id > after_id)
    query = select(request_t).order_by(request_t.c.id).limit(limit)
    if conditions:
        query = query.where(and_(*conditions))
    return list(session.execute(query).mappings())


def closed_before(*, session: Session, cutoff: datetime, limit: int) -> list[str]:
    """Public ids of requests done or rejected before ``cutoff``."""
    closed_at = func.coalesce(request_t.c.done_at, request_t.c.decided_at)
    rows = session.execute(
        select(request_t.c.public_id)
        .where(
            or_(
                and_(request_t.c.state == "done", request_t.c.done_at < cutoff),
                and_(request_t.c.state == "rejected", request_t.c.decided_at < cutoff),
            )
        )
        .order_by(closed_at, request_t.c.id)
        .limit(limit)
    )
    return [str(row[0]) for row in rows]


def delete_closed(*, session: Session, public_ids: Sequence[str]) -> int:
    """Delete requests (and their history) that are done or rejected; returns requests deleted."""
    if not public_ids:
        return 0
    ids = [
        int(row[0])
        for row in session.execute(
            select(request_t.c.id).where(
                request_t.c.public_id.in_(list(public_ids)),
                request_t.c.state.in_(("done", "rejected")),
            )
        )
    ]
    if not ids:
        return 0
    session.execute(delete(event_t).where(event_t.c.request_id.in_(ids)))
    result = session.execute(delete(request_t).where(request_t.c.id.in_(ids)))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def customer_status(*, session: Session, customer_id: str) -> str | None:
    found = session.execute(
        select(customer_t.c.status).where(customer_t.c.id == customer_id)
    ).first()
    return None if found is None else str(found[0])


def wrapped_key(*, session: Session, customer_id: str) -> bytes | None:
    found = session.execute(
        select(key_t.c.wrapped_key).where(key_t.c.customer_id == customer_id)
    ).first()
    return None if found is None else bytes(found[0])


def replace_profile(
    *, session: Session, customer_id: str, sealed: bytes, email_digest: str | None, now: datetime
) -> int:
    result = session.execute(
        update(profile_t)
        .where(profile_t.c.customer_id == customer_id)
        .values(sealed=sealed, email_digest=email_digest, updated_at=now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def last_transaction_at(*, session: Session, customer_id: str) -> datetime | None:
    found: datetime | None = session.execute(
        select(func.max(txn_t.c.created_at)).where(txn_t.c.customer_id == customer_id)
    ).scalar_one()
    return found
