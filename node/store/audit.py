"""SQL for the audit chain: its head, appends, pages, anchors and prefix pruning."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, insert, select, text
from sqlmodel import Session

from node.store.audit_models import AuditAnchor, AuditEntry

entry_t = AuditEntry.__table__  # type: ignore[attr-defined]
anchor_t = AuditAnchor.__table__  # type: ignore[attr-defined]

#: The PostgreSQL advisory lock every append holds until its transaction ends
#: ("KONSAUDT" as a 64-bit integer), so two appends never read the same head.
CHAIN_LOCK = 0x4B4F4E5341554454


@dataclass(frozen=True)
class StoredEntry:
    seq: int
    at: datetime
    actor: str
    action: str
    customer_id: str | None
    purpose: str
    detail: str
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class Anchor:
    through_seq: int
    hash: str
    entries: int
    pruned_at: datetime


_COLUMNS = (
    entry_t.c.seq,
    entry_t.c.at,
    entry_t.c.actor,
    entry_t.c.action,
    entry_t.c.customer_id,
    entry_t.c.purpose,
    entry_t.c.detail,
    entry_t.c.prev_hash,
    entry_t.c.hash,
)


def lock_chain(*, session: Session) -> None:
    """Serialise appends: an advisory lock on PostgreSQL; SQLite has one writer already."""
    if session.connection().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK})


def last_entry(*, session: Session) -> tuple[int, str] | None:
    row = session.execute(
        select(entry_t.c.seq, entry_t.c.hash).order_by(entry_t.c.seq.desc()).limit(1)
    ).first()
    return (int(row[0]), str(row[1])) if row else None


def latest_anchor(*, session: Session) -> Anchor | None:
    row = session.execute(
        select(anchor_t.c.through_seq, anchor_t.c.hash, anchor_t.c.entries, anchor_t.c.pruned_at)
        .order_by(anchor_t.c.through_seq.desc())
        .limit(1)
    ).first()
    return Anchor(int(row[0]), str(row[1]), int(row[2]), row[3]) if row else None


def insert_entry(*, session: Session, entry: StoredEntry) -> None:
    session.execute(
        insert(entry_t).values(
            seq=entry.seq,
            at=entry.at,
            actor=entry.actor,
            action=entry.action,
            customer_id=entry.customer_id,
            purpose=entry.purpose,
            detail=entry.detail,
            prev_hash=entry.prev_hash,
            hash=entry.hash,
        )
    )


def entries_after(
    *, session: Session, after_seq: int, limit: int, customer_id: str | None = None
) -> list[StoredEntry]:
    """Up to ``limit`` entries with seq above ``after_seq``, in chain order."""
    query = select(*_COLUMNS).where(entry_t.c.seq > after_seq)
    if customer_id is not None:
        query = query.where(entry_t.c.customer_id == customer_id)
    rows = session.execute(query.order_by(entry_t.c.seq).limit(limit)).all()
    return [StoredEntry(*row) for row in rows]


def latest_entries(
    *, session: Session, limit: int, customer_id: str | None = None
) -> list[StoredEntry]:
    """The newest ``limit`` entries, returned in chain order."""
    query = select(*_COLUMNS)
    if customer_id is not None:
        query = query.where(entry_t.c.customer_id == customer_id)
    rows = session.execute(query.order_by(entry_t.c.seq.desc()).limit(limit)).all()
    return [StoredEntry(*row) for row in reversed(rows)]


def search_entries(
    *,
    session: Session,
    limit: int,
    before_seq: int | None = None,
    actor: str | None = None,
    customer_id: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[StoredEntry]:
    """Up to ``limit`` entries matching every given filter, newest first."""
    query = select(*_COLUMNS)
    if before_seq is not None:
        query = query.where(entry_t.c.seq < before_seq)
    if actor is not None:
        query = query.where(entry_t.c.actor == actor)
    if customer_id is not None:
        query = query.where(entry_t.c.customer_id == customer_id)
    if action is not None:
        query = query.where(entry_t.c.action == action)
    if since is not None:
        query = query.where(entry_t.c.at >= since)
    if until is not None:
        query = query.where(entry_t.c.at < until)
    rows = session.execute(query.order_by(entry_t.c.seq.desc()).limit(limit)).all()
    return [StoredEntry(*row) for row in rows]


def customer_entries(
    *, session: Session, customer_id: str, exclude_actor: str
) -> list[tuple[datetime, str, str, str]]:
    """(at, action, purpose, actor) of a customer's entries, oldest first."""
    rows = session.execute(
        select(entry_t.c.at, entry_t.c.action, entry_t.c.purpose, entry_t.c.actor)
        .where(entry_t.c.customer_id == customer_id, entry_t.c.actor != exclude_actor)
        .order_by(entry_t.c.seq)
    ).all()
    return [(row[0], row[1], row[2], row[3]) for row in rows]


def entry_count(*, session: Session) -> int:
    return int(session.execute(select(func.count()).select_from(entry_t)).scalar_one())


def oldest_entries(*, session: Session, limit: int) -> list[tuple[int, datetime]]:
    rows = session.execute(
        select(entry_t.c.seq, entry_t.c.at).order_by(entry_t.c.seq).limit(limit)
    ).all()
    return [(int(row[0]), row[1]) for row in rows]


def entry_hash(*, session: Session, seq: int) -> str | None:
    found = session.execute(select(entry_t.c.hash).where(entry_t.c.seq == seq)).scalar()
    return str(found) if found is not None else None


def insert_anchor(
    *, session: Session, through_seq: int, hash: str, entries: int, now: datetime
) -> None:
    session.execute(
        insert(anchor_t).values(through_seq=through_seq, hash=hash, entries=entries, pruned_at=now)
    )


def delete_through(*, session: Session, through_seq: int) -> int:
    """Delete the entries up to ``through_seq`` (the triggers allow it only behind an anchor)."""
    result = session.execute(delete(entry_t).where(entry_t.c.seq <= through_seq))
    return max(result.rowcount or 0, 0)  # type: ignore[attr-defined]
