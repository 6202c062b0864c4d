"""SQL for operator API keys (digests only)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select, update
from sqlmodel import Session

from node.store.models import ApiKey

apikey_t = ApiKey.__table__  # type: ignore[attr-defined]


def insert_key(*, session: Session, key_id: str, name: str, digest: str, now: datetime) -> None:
    session.execute(insert(apikey_t).values(id=key_id, name=name, digest=digest, created_at=now))


def active_key_by_digest(*, session: Session, digest: str) -> tuple[str, str] | None:
    """(key id, stored digest) of an unrevoked key with this digest."""
    row = session.execute(
        select(apikey_t.c.id, apikey_t.c.digest).where(
            apikey_t.c.digest == digest, apikey_t.c.revoked_at.is_(None)
        )
    ).first()
    return (row[0], row[1]) if row else None


def all_keys(*, session: Session) -> list[ApiKey]:
    rows = session.execute(select(apikey_t).order_by(apikey_t.c.created_at, apikey_t.c.id))
    return [ApiKey.model_validate(dict(row._mapping)) for row in rows]


def revoke(*, session: Session, key_id: str, now: datetime) -> bool:
    result = session.execute(
        update(apikey_t)
        .where(apikey_t.c.id == key_id, apikey_t.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]
