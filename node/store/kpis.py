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
    *, session: Session, boundaries: Sequence[datetime], kinds: Sequence[str], span_from: int = 1
) -> tuple[dict[int, Activity], Activity]:
    """Active customers, their transactions and how many were active the bucket before;
    and the same counted once over the buckets from index ``span_from`` on.

    Only transactions in [boundaries[0], boundaries[-1]) count, so indexes run
    from 1 to len(boundaries) - 1. One scan and one grouping by customer: each
    active customer becomes one row of per-bucket counts, and the outer query
    adds those rows up, so the work grows with the transactions and the groups
    with the members (not members times buckets, and no self-join).
    """
    created = txn_t.c.created_at
    tagged = (
        select(bucket_index(created, boundaries).label("bucket"), txn_t.c.customer_id)
        .where(txn_t.c.kind.in_(kinds), created >= boundaries[0], created < boundaries[-1])
        .subquery("tagged")
    )
    indexes = range(1, len(boundaries))
    per_member = (
        select(
            *(func.sum(case((tagged.c.bucket == k, 1), else_=0)).label(f"e{k}") for k in indexes),
            func.sum(case((tagged.c.bucket >= span_from, 1), else_=0)).label("span"),
        )
        # Filtered here, not in the scan: there it would steer SQLite onto the
        # customer index, a random read per transaction.
        .where(tagged.c.customer_id.is_not(None))
        .group_by(tagged.c.customer_id)
        .subquery("per_member")
    )
    columns: list[ColumnElement[Any]] = []
    for k in indexes:
        events = per_member.c[f"e{k}"]
        before = per_member.c[f"e{k - 1}"] if k > 1 else None
        columns += [
            func.sum(case((events > 0, 1), else_=0)),
            func.sum(events),
            func.sum(case((and_(events > 0, before > 0), 1), else_=0))
            if before is not None
            else literal_column("0", Integer),
        ]
    span = per_member.c.span
    columns += [func.sum(case((span > 0, 1), else_=0)), func.sum(span)]
    row = session.execute(select(*columns)).one()
    figures = [int(value or 0) for value in row]
    by_bucket = {
        k: Activity(*figures[3 * (k - 1) : 3 * k]) for k in indexes if figures[3 * (k - 1)]
    }
    return by_bucket, Activity(figures[-2], figures[-1], 0)


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
