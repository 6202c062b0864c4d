"""Paid membership KPIs per calendar period (docs/kpis.md, "Paid membership").

Per bucket [start, end) of the same calendar as node.services.kpis:

    paid_members   members whose membership holds at the bucket's end (last
                   change written is a start, renewal, grace, resume or a
                   cancel requested for the period end)
    renewal_rate   of the paid periods that end in the bucket (not cancelled
                   before their end), the share
                   followed by a paid next period (paid at any time), basis points
    churn          memberships lapsed or cancelled in the bucket / paid members
                   at its start, basis points
    fee_revenue    fees paid minus refunds recorded in the bucket, minor units

Lapses and period-end cancellations count when the memberships job writes
them down. All figures are integers; rates round down.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo

from node.db import Database
from node.services.kpis import Period, Ratio, bucket_dates, instant
from node.store import membership_kpis as store

HOLDING = ("started", "renewed", "grace", "cancel_requested", "resumed")
LEAVING = ("lapsed", "cancelled")


@dataclass(frozen=True)
class MembershipFigures:
    start: date
    end: date
    paid_members: int
    renewal_rate: Ratio
    churn: Ratio
    fee_revenue: int


def _holding_at(changes: list[tuple[str, str, datetime]], moment: datetime) -> int:
    last: dict[str, str] = {}
    for customer, change, created_at in changes:
        if created_at >= moment:
            break
        last[customer] = change
    return sum(1 for change in last.values() if change in HOLDING)


def membership_kpi_report(
    db: Database, *, start: date, end: date, period: Period, tz: tzinfo = UTC
) -> list[MembershipFigures]:
    """The paid membership KPIs per ``period`` bucket of [start, end) in ``tz``."""
    spans = bucket_dates(start, end, period)
    boundaries = [instant(day, tz) for day in [start, *(e for _, e in spans)]]
    with db.read() as session:
        changes = store.changes_before(session=session, end=boundaries[-1])
        payments = store.payments_from(session=session, start=boundaries[0])
    paid_starts = {(c, ps) for c, amount, ps, _, _ in payments if amount > 0}
    cancels = [(c, at) for c, change, at in changes if change == "cancelled"]
    figures: list[MembershipFigures] = []
    for index, (first_day, end_day) in enumerate(spans):
        low, high = boundaries[index], boundaries[index + 1]
        due = {
            (c, pe)
            for c, amount, ps, pe, _ in payments
            if amount > 0
            and low <= pe < high
            and not any(who == c and ps <= at < pe for who, at in cancels)
        }
        renewed = sum(1 for key in due if key in paid_starts)
        left = sum(1 for _, change, at in changes if change in LEAVING and low <= at < high)
        revenue = sum(amount for _, amount, _, _, at in payments if low <= at < high)
        figures.append(
            MembershipFigures(
                start=first_day,
                end=end_day,
                paid_members=_holding_at(changes, high),
                renewal_rate=Ratio.rate(renewed, len(due)),
                churn=Ratio.rate(left, _holding_at(changes, low)),
                fee_revenue=revenue,
            )
        )
    return figures
