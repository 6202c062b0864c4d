"""SQL for customers, their sealed profiles and their data keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select
from sqlmodel import Session

from node.store.models import Customer, CustomerKey, CustomerProfile

customer_t = Customer.__table__  # type: ignore[attr-defined]
profile_t = CustomerProfile.__table__  # type: ignore[attr-defined]
key_t = CustomerKey.__table__  # type: ignore[attr-defined]


def insert_customer(*, session: Session, customer_id: str, status: str, now: datetime) -> None:
    session.execute(insert(customer_t).values(id=customer_id, status=status, created_at=now))


def insert_key(*, session: Session, customer_id: str, wrapped_key: bytes, now: datetime) -> None:
    session.execute(
        insert(key_t).values(customer_id=customer_id, wrapped_key=wrapped_key, created_at=now)
    )


def insert_profile(
    *,
    session: Session,
    customer_id: str,
    sealed: bytes,
    email_digest: str | None,
    now: datetime,
) -> None:
    session.execute(
        insert(profile_t).values(
            customer_id=customer_id, sealed=sealed, email_digest=email_digest, updated_at=now
        )
    )


def customer_status(*, session: Session, customer_id: str) -> tuple[str, datetime] | None:
    row = session.execute(
        select(customer_t.c.status, customer_t.c.created_at).where(customer_t.c.id == customer_id)
    ).first()
    return (row[0], row[1]) if row else None


def customer_id_by_email_digest(*, session: Session, digest: str) -> str | None:
    return session.execute(
        select(profile_t.c.customer_id).where(profile_t.c.email_digest == digest)
    ).scalar()


def sealed_profile(*, session: Session, customer_id: str) -> tuple[bytes, bytes] | None:
    """(wrapped data key, sealed profile) of a customer, if both still exist."""
    row = session.execute(
        select(key_t.c.wrapped_key, profile_t.c.sealed)
        .join(profile_t, profile_t.c.customer_id == key_t.c.customer_id)
        .where(key_t.c.customer_id == customer_id)
    ).first()
    return (row[0], row[1]) if row else None


def customer_ids_by_prefix(*, session: Session, prefix: str, limit: int) -> list[str]:
    """Customer ids starting with ``prefix`` (opaque ids only, never personal values)."""
    rows = session.execute(
        select(customer_t.c.id)
        .where(customer_t.c.id.startswith(prefix, autoescape=True))
        .order_by(customer_t.c.id)
        .limit(limit)
    )
    return [str(row[0]) for row in rows]
