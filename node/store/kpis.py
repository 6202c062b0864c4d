"""SQL for the KPIs: counts and sums per time bucket. No rules here.

Every query gets the bucket boundaries as a sorted list of aware UTC
datetimes and numbers each row by the bucket it falls in:

    index k  means  boundaries[k-1] <= t < boundaries[k]
    index 0  means  t < boundaries[0]        (before the first bucket)

The index is a nested ``CASE`` that bisects the boundaries, so a row costs
about log2(number of boundaries) comparisons, and it uses no date function,
so the same statement runs on SQLite and PostgreSQL. The calendar (months,
ISO weeks, time zones) is worked out in Python by the caller; SQL only
compares timestamps with bound parameters and counts.

Each function scans one table once for the whole range. None of the time
columns read here has an index of its own (``purchase`` is indexed by
customer first, ``ledger_transaction`` by customer and id), so each query is
one sequential scan: fine at 100k purchases, see docs/kpis.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Integer, and_, case, func, literal_column, select
from sqlmodel import Session

from node.store.models import Customer, LedgerTransaction, Purchase
from node.store.program_models import Refund

customer_t = Customer.__table__  # type: ignore[attr-defined]
purchase_t = Purchase.__table__  # type: ignore[attr-defined]
refund_t = Refund.__table__  # type: ignore[attr-defined]
txn_t = LedgerTransaction.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Sales:
    purchases: int
    amount: int


@dataclass(frozen=True)
class Activity:
    #: Distinct customers with at least one transaction of the given kinds.
    members: int
    #: Transactions of the given kinds.
    events: int
    #: Of ``members``, those also active in the bucket before (index - 1).
    retained: int


@dataclass(frozen=True)
class PointFlows:
    issued: int
    redeemed: int


def bucket_index(column: Any, boundaries: Sequence[datetime]) -> ColumnElement[int]:
    """``CASE`` giving the number of boundaries at or before ``column``."""

    def pick(low: int, high: int) -> ColumnElement[int]:
        # The answer lies in [low, high]; boundaries[low:high] are undecided.
        if low == high:
            return literal_column(str(low), Integer)
        middle = (low + high) // 2
        return case((column < boundaries[middle], pick(low, middle)), else_=pick(middle + 1, high))

    return pick(0, len(boundaries))


def enrolments_by_bucket(*, session: Session, boundaries: Sequence[datetime]) -> dict[int, int]:
    """Customers enrolled per bucket index, index 0 being everyone enrolled earlier."""
    created = customer_t.c.created_at
    tagged = (
        select(bucket_index(created, boundaries).label("bucket"))
        .where(created < boundaries[-1])
        .subquery()
    )
    rows = session.execute(select(tagged.c.bucket, func.count()).group_by(tagged.c.bucket))
    return {int(bucket): int(count) for bucket, count in rows}


def sales_by_bucket(*, session: Session, boundaries: Sequence[datetime]) -> dict[int, Sales]:
    """Number and gross amount of purchases per bucket index (by ``occurred_at``)."""
    occurred = purchase_t.c.occurred_at
    tagged = (
        select(bucket_index(occurred, boundaries).label("bucket"), purchase_t.c.amount)
        .where(occurred < boundaries[-1])
        .subquery()
    )
    rows = session.execute(
        select(tagged.c.bucket, func.count(), func.sum(tagged.c.amount)).group_by(tagged.c.bucket)
    )
    return {int(bucket): Sales(int(count), int(amount)) for bucket, count, amount in rows}


def refunds_by_bucket(*, session: Session, boundaries: Sequence[datetime]) -> dict[int, int]:
    """Refunded amount per bucket index (by the refund's ``created_at``)."""
    created = refund_t.c.created_at
    tagged = (
        select(bucket_index(created, boundaries).label("bucket"), refund_t.c.amount)
        .where(created < boundaries[-1])
        .subquery()
    )
    rows = session.execute(
        select(tagged.c.bucket, func.sum(tagged.c.amount)).group_by(tagged.c.bucket)
    )
    return {int(bucket): int(amount) for bucket, amount in rows}


def activity_by_bucket(
    *, session: Session, boundaries: Sequence[datetime], kinds: Sequence[str]
) -> dict[int, Activity]:
    """Active customers, their transactions and how many were active the bucket before.

    Only transactions in [boundaries[0], boundaries[-1]) count, so indexes run
    from 1 to len(boundaries) - 1.
    """
    created = txn_t.c.created_at
    tagged = (
        select(bucket_index(created, boundaries).label("bucket"), txn_t.c.customer_id)
        .where(txn_t.c.kind.in_(kinds), created >= boundaries[0], created < boundaries[-1])
        .subquery("tagged")
    )
    per_member = (
        select(tagged.c.bucket, tagged.c.customer_id, func.count().label("events"))
        .group_by(tagged.c.bucket, tagged.c.customer_id)
        .cte("per_member")
    )
    now, before = per_member.alias("now_active"), per_member.alias("before_active")
    rows = session.execute(
        select(now.c.bucket, func.count(), func.sum(now.c.events), func.count(before.c.customer_id))
        .select_from(
            now.outerjoin(
                before,
                and_(
                    before.c.customer_id == now.c.customer_id,
                    before.c.bucket == now.c.bucket - 1,
                ),
            )
        )
        # Filtered here, not in the scan: there it would steer SQLite onto the
        # customer index, a random read per transaction.
        .where(now.c.customer_id.is_not(None))
        .group_by(now.c.bucket)
    )
    return {
        int(bucket): Activity(int(members), int(events), int(retained))
        for bucket, members, events, retained in rows
    }


def activity_between(
    *, session: Session, start: datetime, end: datetime, kinds: Sequence[str]
) -> Activity:
    """Distinct active customers and their transactions in [start, end) as one span."""
    created = txn_t.c.created_at
    row = session.execute(
        select(func.count(txn_t.c.customer_id.distinct()), func.count(txn_t.c.customer_id)).where(
            txn_t.c.kind.in_(kinds), created >= start, created < end
        )
    ).one()
    return Activity(int(row[0]), int(row[1]), 0)


def point_flows_by_bucket(
    *,
    session: Session,
    boundaries: Sequence[datetime],
    issued_kinds: Sequence[str],
    redeemed_kinds: Sequence[str],
) -> dict[int, PointFlows]:
    """Points issued (sum of ``points``) and redeemed (minus the sum) per bucket index.

    Only transactions in [boundaries[0], boundaries[-1]) count.
    """
    created = txn_t.c.created_at
    points = txn_t.c.points
    tagged = (
        select(
            bucket_index(created, boundaries).label("bucket"),
            case((txn_t.c.kind.in_(issued_kinds), points), else_=0).label("issued"),
            case((txn_t.c.kind.in_(redeemed_kinds), -points), else_=0).label("redeemed"),
        )
        .where(
            txn_t.c.kind.in_([*issued_kinds, *redeemed_kinds]),
            created >= boundaries[0],
            created < boundaries[-1],
        )
        .subquery()
    )
    rows = session.execute(
        select(tagged.c.bucket, func.sum(tagged.c.issued), func.sum(tagged.c.redeemed)).group_by(
            tagged.c.bucket
        )
    )
    return {
        int(bucket): PointFlows(int(issued), int(redeemed)) for bucket, issued, redeemed in rows
    }
