"""SQL for rectifying a sealed profile (reads live in node.store.customers)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session

from node.store.customers import profile_t
from node.store.sql import raw


def update_profile(
    *,
    session: Session,
    customer_id: str,
    sealed: bytes,
    email_digest: str | None,
    now: datetime,
) -> None:
    session.execute(
        update(profile_t)
        .where(profile_t.c.customer_id == customer_id)
        .values(sealed=sealed, email_digest=email_digest, updated_at=now)
    )


def forget_birth_month(*, session: Session, customer_id: str) -> None:
    raw(session).execute("DELETE FROM birthday_index WHERE customer_id = ?", (customer_id,))
