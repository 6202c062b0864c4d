"""SQL for consent wording, consent records and restriction of processing.

The two lookups every partner transfer makes (the newest consent record of
one customer and purpose, the newest restriction row of one customer) are
driver-level SQL on their indexes (node.store.sql).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, delete, func, insert, select
from sqlmodel import Session

from node.store import sql
from node.store.consent_models import ConsentRecord, ConsentWording, ProcessingRestriction

wording_t = ConsentWording.__table__  # type: ignore[attr-defined]
record_t = ConsentRecord.__table__  # type: ignore[attr-defined]
restriction_t = ProcessingRestriction.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class WordingRow:
    purpose: str
    version: int
    legal_basis: str
    title: str
    text: str
    published_by: str
    published_at: datetime


@dataclass(frozen=True)
class RecordRow:
    public_id: str
    customer_id: str
    purpose: str
    granted: bool
    wording_version: int
    channel: str
    actor: str
    recorded_at: datetime


def _wording(row: object) -> WordingRow:
    return WordingRow(
        row.purpose,  # type: ignore[attr-defined]
        row.version,  # type: ignore[attr-defined]
        row.legal_basis,  # type: ignore[attr-defined]
        row.title,  # type: ignore[attr-defined]
        row.text,  # type: ignore[attr-defined]
        row.published_by,  # type: ignore[attr-defined]
        row.published_at,  # type: ignore[attr-defined]
    )


def _record(row: object) -> RecordRow:
    return RecordRow(
        row.public_id,  # type: ignore[attr-defined]
        row.customer_id,  # type: ignore[attr-defined]
        row.purpose,  # type: ignore[attr-defined]
        bool(row.granted),  # type: ignore[attr-defined]
        row.wording_version,  # type: ignore[attr-defined]
        row.channel,  # type: ignore[attr-defined]
        row.actor,  # type: ignore[attr-defined]
        row.recorded_at,  # type: ignore[attr-defined]
    )


# -- wording ------------------------------------------------------------------------


def all_wording(*, session: Session) -> list[WordingRow]:
    rows = session.execute(select(wording_t).order_by(wording_t.c.purpose, wording_t.c.version))
    return [_wording(row) for row in rows]


def wording(*, session: Session, purpose: str, version: int | None = None) -> WordingRow | None:
    """One version of a purpose's wording; the newest when ``version`` is None."""
    query = select(wording_t).where(wording_t.c.purpose == purpose)
    if version is None:
        query = query.order_by(wording_t.c.version.desc()).limit(1)
    else:
        query = query.where(wording_t.c.version == version)
    row = session.execute(query).first()
    return _wording(row) if row is not None else None


def insert_wording(*, session: Session, row: WordingRow) -> None:
    session.execute(
        insert(wording_t).values(
            purpose=row.purpose,
            version=row.version,
            legal_basis=row.legal_basis,
            title=row.title,
            text=row.text,
            published_by=row.published_by,
            published_at=row.published_at,
        )
    )


# -- records --------------------------------------------------------------------------


def current_grant(*, session: Session, customer_id: str, purpose: str) -> bool:
    """Whether the newest record of (customer, purpose) is a grant (hot path)."""
    found = sql.raw(session).one(
        "SELECT granted FROM consent_record WHERE customer_id = ? AND purpose = ? "
        "ORDER BY id DESC LIMIT 1",
        (customer_id, purpose),
    )
    return found is not None and bool(found[0])


def latest_record(*, session: Session, customer_id: str, purpose: str) -> RecordRow | None:
    row = session.execute(
        select(record_t)
        .where(record_t.c.customer_id == customer_id, record_t.c.purpose == purpose)
        .order_by(record_t.c.id.desc())
        .limit(1)
    ).first()
    return _record(row) if row is not None else None


def latest_records(*, session: Session, customer_id: str) -> dict[str, RecordRow]:
    """The newest record of each purpose the customer ever answered."""
    newest = (
        select(func.max(record_t.c.id))
        .where(record_t.c.customer_id == customer_id)
        .group_by(record_t.c.purpose)
    )
    rows = session.execute(select(record_t).where(record_t.c.id.in_(newest)))
    return {row.purpose: _record(row) for row in rows}


def customer_records(*, session: Session, customer_id: str) -> list[RecordRow]:
    """Every record of the customer, oldest first."""
    rows = session.execute(
        select(record_t).where(record_t.c.customer_id == customer_id).order_by(record_t.c.id)
    )
    return [_record(row) for row in rows]


def insert_record(*, session: Session, row: RecordRow) -> None:
    session.execute(
        insert(record_t).values(
            public_id=row.public_id,
            customer_id=row.customer_id,
            purpose=row.purpose,
            granted=row.granted,
            wording_version=row.wording_version,
            channel=row.channel,
            actor=row.actor,
            recorded_at=row.recorded_at,
        )
    )


def withdrawn_chains_before(*, session: Session, cutoff: datetime, limit: int) -> list[str]:
    """Public ids of every record of each (customer, purpose) whose newest record
    is a withdrawal recorded before ``cutoff``; at most ``limit`` ids."""
    newest = (
        select(
            record_t.c.customer_id.label("customer_id"),
            record_t.c.purpose.label("purpose"),
            func.max(record_t.c.id).label("newest"),
        )
        .group_by(record_t.c.customer_id, record_t.c.purpose)
        .subquery()
    )
    last = record_t.alias("last")
    due = (
        select(newest.c.customer_id, newest.c.purpose)
        .join(last, last.c.id == newest.c.newest)
        .where(last.c.granted.is_(False), last.c.recorded_at < cutoff)
        .subquery()
    )
    rows = session.execute(
        select(record_t.c.public_id)
        .join(
            due,
            and_(record_t.c.customer_id == due.c.customer_id, record_t.c.purpose == due.c.purpose),
        )
        .order_by(record_t.c.id)
        .limit(limit)
    )
    return [row.public_id for row in rows]


def delete_records(*, session: Session, public_ids: Sequence[str]) -> int:
    result = session.execute(delete(record_t).where(record_t.c.public_id.in_(list(public_ids))))
    return max(int(getattr(result, "rowcount", 0) or 0), 0)


# -- restriction ----------------------------------------------------------------------


def is_restricted(*, session: Session, customer_id: str) -> bool:
    found = sql.raw(session).one(
        "SELECT restricted FROM processing_restriction WHERE customer_id = ? "
        "ORDER BY id DESC LIMIT 1",
        (customer_id,),
    )
    return found is not None and bool(found[0])


def insert_restriction(
    *,
    session: Session,
    customer_id: str,
    restricted: bool,
    reason: str,
    actor: str,
    now: datetime,
) -> None:
    session.execute(
        insert(restriction_t).values(
            customer_id=customer_id,
            restricted=restricted,
            reason=reason,
            actor=actor,
            recorded_at=now,
        )
    )


def restriction_history(*, session: Session, customer_id: str) -> list[tuple[bool, str, datetime]]:
    rows = session.execute(
        select(restriction_t.c.restricted, restriction_t.c.reason, restriction_t.c.recorded_at)
        .where(restriction_t.c.customer_id == customer_id)
        .order_by(restriction_t.c.id)
    )
    return [(bool(row.restricted), row.reason, row.recorded_at) for row in rows]


def link_code_holder(
    *, session: Session, code_digest: str, partner: str, now: datetime
) -> str | None:
    """The customer an unused, unexpired link code for ``partner`` belongs to (no write),
    so the consent guard can refuse before the code is used."""
    db = sql.raw(session)
    row = db.one(
        "SELECT customer_id FROM link_code WHERE code_digest = ? AND partner = ?"
        " AND used_at IS NULL AND expires_at > ?",
        (code_digest, partner, db.time(now)),
    )
    return str(row[0]) if row else None
