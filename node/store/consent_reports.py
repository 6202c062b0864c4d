"""SQL for the privacy officer's consent reports: counts of current state per
purpose and wording version, recent withdrawals, and every record in id order.

All of it reads only opaque ids, purposes, versions, channels and times."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import func, select
from sqlmodel import Session

from node.store.consent import RecordRow, _record, record_t


def current_state_counts(*, session: Session) -> list[tuple[str, int, bool, int]]:
    """(purpose, wording version, granted, members) over each member's newest record."""
    newest = (
        select(func.max(record_t.c.id)).group_by(record_t.c.customer_id, record_t.c.purpose)
    ).scalar_subquery()
    c = record_t.c
    rows = session.execute(
        select(c.purpose, c.wording_version, c.granted, func.count())
        .where(c.id.in_(newest))
        .group_by(c.purpose, c.wording_version, c.granted)
        .order_by(c.purpose, c.wording_version)
    )
    return [(str(r[0]), int(r[1]), bool(r[2]), int(r[3])) for r in rows]


def recent_withdrawals(*, session: Session, limit: int) -> list[RecordRow]:
    """The newest withdrawal records, newest first."""
    rows = session.execute(
        select(record_t)
        .where(record_t.c.granted == False)  # noqa: E712 (SQL comparison)
        .order_by(record_t.c.id.desc())
        .limit(limit)
    )
    return [_record(row) for row in rows]


def records_after(*, session: Session, after_id: int, limit: int) -> list[tuple[int, RecordRow]]:
    """(internal id, record) in id order after ``after_id``: keyset pages for a CSV."""
    rows = session.execute(
        select(record_t).where(record_t.c.id > after_id).order_by(record_t.c.id).limit(limit)
    )
    return [(int(row.id), _record(row)) for row in rows]


def all_records(*, session: Session, batch: int = 1000) -> Iterator[RecordRow]:
    after = 0
    while True:
        page = records_after(session=session, after_id=after, limit=batch)
        for _, record in page:
            yield record
        if len(page) < batch:
            return
        after = page[-1][0]
