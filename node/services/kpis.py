"""KPIs over the node's own data, per calendar period: what an operator watches.

``kpi_report(db, start=, end=, period=, tz=)`` splits [start, end) into
calendar buckets (days, ISO weeks from Monday, months, quarters, years) in
the time zone ``tz``, and gives per bucket, and for the whole range:

    enrolments               customers enrolled
    active_members           distinct customers who earned, redeemed, took a
                             reward or did an action
    retention_rate           of the members active in the bucket before, the
                             share active again in this one
    redemption_rate          points redeemed / points issued
    average_order_value      net purchase amount / purchases
    customer_lifetime_value  net spend of every member enrolled by the end of
                             the bucket / their number
    engagement               customer-initiated transactions / active members

docs/kpis.md defines each one with a formula and a worked example.

Ratios are exact integers: rates (and engagement) are scaled by 10 000, so
4567 means 45.67 % (or 0.4567 events per member); money is in minor units.
Every division rounds down (floor, towards minus infinity) and every ratio
comes with its numerator and denominator; the value is ``None`` when the
denominator is 0.

The calendar is Python's (``zoneinfo`` for the time zone); the database
only counts rows between bucket boundaries (node.store.kpis), one query per
table for the whole range, all in one read snapshot.
"""

from __future__ import annotations

import calendar
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from node.db import Database
from node.errors import ValidationFailed
from node.store import kpis as store

Period = Literal["day", "week", "month", "quarter", "year"]
PERIODS: tuple[str, ...] = get_args(Period)

#: The most buckets one report may have (a bit more than a year of days).
MAX_BUCKETS = 400
#: Rates are integers in units of 1/SCALE: basis points.
SCALE = 10_000
#: The dates a report may cover (the calendar arithmetic stays in range).
EARLIEST = date(1970, 1, 1)
LATEST = date(9999, 1, 1)

#: Ledger transaction kinds. Customer-initiated ones make a member active and
#: count as engagement: an earn is a purchase, a redeem or a reward (voucher)
#: a redemption, an action an engagement action.
CUSTOMER_KINDS = ("earn", "redeem", "reward", "action")
ISSUED_KINDS = ("earn", "bonus", "action")
#: Redeemed points are minus the sum of these (a reward-return gives points back).
REDEEMED_KINDS = ("redeem", "reward", "reward-return")

DEFINITIONS: dict[str, str] = {
    "enrolments": "customers enrolled in the period",
    "active_members": "distinct customers with a purchase, redemption, reward or action in the "
    "period",
    "retention_rate": "of the members active in the previous period, the share active again in "
    "this one, in basis points (4567 = 45.67 %)",
    "redemption_rate": "points redeemed (redeem + reward - reward-return) / points issued "
    "(earn + bonus + action) in the period, in basis points",
    "average_order_value": "(purchase amounts - refunded amounts) in the period / purchases in "
    "the period, in minor units, rounded down",
    "customer_lifetime_value": "(purchase amounts - refunded amounts) up to the end of the period "
    "/ members enrolled up to the end of the period, in minor units, rounded down",
    "engagement": "purchases + redemptions + rewards + actions in the period / active members, "
    "times 10 000 (25000 = 2.5 per member)",
}


@dataclass(frozen=True)
class Ratio:
    numerator: int
    denominator: int
    #: numerator / denominator, rounded down, or None when the denominator is 0.
    value: int | None

    @classmethod
    def rate(cls, numerator: int, denominator: int) -> Ratio:
        """A ratio in basis points: 1 of 3 is 3333."""
        value = numerator * SCALE // denominator if denominator else None
        return cls(numerator, denominator, value)

    @classmethod
    def average(cls, numerator: int, denominator: int) -> Ratio:
        """An amount per unit, in the numerator's unit: 1000 øre over 3 is 333."""
        return cls(numerator, denominator, numerator // denominator if denominator else None)


@dataclass(frozen=True)
class Figures:
    enrolments: int
    active_members: int
    retention_rate: Ratio
    redemption_rate: Ratio
    average_order_value: Ratio
    customer_lifetime_value: Ratio
    engagement: Ratio


@dataclass(frozen=True)
class Bucket:
    #: Local calendar dates in the report's time zone: [start, end).
    start: date
    end: date
    figures: Figures


@dataclass(frozen=True)
class KpiReport:
    period: Period
    start: date
    end: date
    time_zone: str
    buckets: list[Bucket]
    totals: Figures


def time_zone(name: str) -> tzinfo:
    """The IANA time zone ``name`` ("Europe/Copenhagen"), or a 422 naming ``tz``."""
    if name == "UTC":
        return UTC
    if name not in _known_zones():
        raise ValidationFailed("tz: not a known IANA time zone", field="tz")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # a broken time zone database
        raise ValidationFailed("tz: not a known IANA time zone", field="tz") from None


@functools.cache
def _known_zones() -> frozenset[str]:
    """IANA names in the time zone database (system files or the tzdata package)."""
    return frozenset(available_timezones())


def period_start(day: date, period: Period) -> date:
    """The first day of the calendar period that holds ``day``."""
    if period == "day":
        return day
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    if period == "quarter":
        return date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    return date(day.year, 1, 1)


def shift(day: date, period: Period, count: int) -> date:
    """``day`` moved by ``count`` periods; month ends are clamped (31 Mar - 1 month = 28 Feb)."""
    if period == "day":
        return day + timedelta(days=count)
    if period == "week":
        return day + timedelta(weeks=count)
    months = {"month": 1, "quarter": 3, "year": 12}[period] * count
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def bucket_dates(start: date, end: date, period: Period) -> list[tuple[date, date]]:
    """Calendar buckets covering [start, end); the first and last may be partial.

    Raises ValidationFailed for an empty or reversed range, dates out of
    bounds, or more than MAX_BUCKETS buckets.
    """
    if period not in PERIODS:
        raise ValidationFailed(f"period: one of {', '.join(PERIODS)}", field="period")
    if start < EARLIEST:
        raise ValidationFailed(f"from: on or after {EARLIEST.isoformat()}", field="from")
    if end > LATEST:
        raise ValidationFailed(f"to: on or before {LATEST.isoformat()}", field="to")
    if end <= start:
        raise ValidationFailed("to: must be after from", field="to")
    found: list[tuple[date, date]] = []
    cursor = start
    while cursor < end:
        if len(found) == MAX_BUCKETS:
            raise ValidationFailed(
                f"to: at most {MAX_BUCKETS} buckets per report; choose a longer period "
                "or a shorter range",
                field="to",
            )
        following = min(shift(period_start(cursor, period), period, 1), end)
        found.append((cursor, following))
        cursor = following
    return found


_NO_SALES, _NO_ACTIVITY, _NO_FLOWS = (
    store.Sales(0, 0),
    store.Activity(0, 0, 0),
    store.PointFlows(0, 0),
)


def _instant(day: date, zone: tzinfo) -> datetime:
    """Midnight at the start of ``day`` in ``zone``, as UTC."""
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


instant = _instant  # public: node.services.membership_kpis uses the same calendar


def kpi_report(
    db: Database, *, start: date, end: date, period: Period, tz: tzinfo = UTC
) -> KpiReport:
    """The KPIs per ``period`` bucket of [start, end) in time zone ``tz``, with totals."""
    spans = bucket_dates(start, end, period)
    boundaries = [_instant(day, tz) for day in [start, *(e for _, e in spans)]]
    # The bucket before the first, for the first bucket's retention: one whole
    # period that ends where the report starts.
    lead_in = _instant(shift(start, period, -1), tz)
    with db.read() as session:
        members = store.enrolments_by_bucket(session=session, boundaries=boundaries)
        sales = store.sales_by_bucket(session=session, boundaries=boundaries)
        refunds = store.refunds_by_bucket(session=session, boundaries=boundaries)
        # The lead-in is index 1 here, so the report's range starts at index 2.
        activity, whole_range = store.activity_by_bucket(
            session=session, boundaries=[lead_in, *boundaries], kinds=CUSTOMER_KINDS, span_from=2
        )
        flows = store.point_flows_by_bucket(
            session=session,
            boundaries=boundaries,
            issued_kinds=ISSUED_KINDS,
            redeemed_kinds=REDEEMED_KINDS,
        )
    # Running totals from before the report's start, for lifetime value.
    enrolled, spent = members.get(0, 0), sales.get(0, _NO_SALES).amount - refunds.get(0, 0)
    buckets: list[Bucket] = []
    for number, (first_day, end_day) in enumerate(spans, start=1):
        bucket_sales = sales.get(number, _NO_SALES)
        net = bucket_sales.amount - refunds.get(number, 0)
        enrolled += members.get(number, 0)
        spent += net
        # In the activity query index 1 is the lead-in, so this bucket is number + 1.
        active = activity.get(number + 1, _NO_ACTIVITY)
        previous = activity.get(number, _NO_ACTIVITY)
        bucket_flows = flows.get(number, _NO_FLOWS)
        figures = Figures(
            enrolments=members.get(number, 0),
            active_members=active.members,
            retention_rate=Ratio.rate(active.retained, previous.members),
            redemption_rate=Ratio.rate(bucket_flows.redeemed, bucket_flows.issued),
            average_order_value=Ratio.average(net, bucket_sales.purchases),
            customer_lifetime_value=Ratio.average(spent, enrolled),
            engagement=Ratio.rate(active.events, active.members),
        )
        buckets.append(Bucket(first_day, end_day, figures))
    return KpiReport(period, start, end, str(tz), buckets, _totals(buckets, whole_range))


def _totals(buckets: Sequence[Bucket], whole_range: store.Activity) -> Figures:
    """The whole range: sums over buckets, except where a member counts once.

    Active members and engagement count each member once over the range;
    retention pools every bucket's numerator and denominator; lifetime value
    is the one at the end of the range.
    """
    figures = [bucket.figures for bucket in buckets]
    return Figures(
        enrolments=sum(f.enrolments for f in figures),
        active_members=whole_range.members,
        retention_rate=Ratio.rate(*_pool(f.retention_rate for f in figures)),
        redemption_rate=Ratio.rate(*_pool(f.redemption_rate for f in figures)),
        average_order_value=Ratio.average(*_pool(f.average_order_value for f in figures)),
        customer_lifetime_value=figures[-1].customer_lifetime_value,
        engagement=Ratio.rate(whole_range.events, whole_range.members),
    )


def _pool(ratios: Iterable[Ratio]) -> tuple[int, int]:
    """(sum of numerators, sum of denominators)."""
    numerator = denominator = 0
    for ratio in ratios:
        numerator += ratio.numerator
        denominator += ratio.denominator
    return numerator, denominator
