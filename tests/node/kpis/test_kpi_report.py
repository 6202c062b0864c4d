"""kpi_report: every KPI against figures worked out by hand (docs/kpis.md has the same example)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from node.clock import ManualClock
from node.db import Database
from node.secrets import NodeSecrets
from node.services.kpis import Figures, KpiReport, Ratio, kpi_report
from node.settings import Settings
from tests.factories import earn, make_customer, redeem
from tests.node.kpis.conftest import post_points

TICK = timedelta(microseconds=1)


def at(clock: ManualClock, *moment: int) -> None:
    clock.set(datetime(*moment, tzinfo=UTC))


def ratio(numerator: int, denominator: int, value: int | None) -> Ratio:
    return Ratio(numerator, denominator, value)


def months(db: Database) -> KpiReport:
    return kpi_report(db, start=date(2026, 1, 1), end=date(2026, 4, 1), period="month")


@pytest.fixture
def shop(db: Database, settings: Settings, clock: ManualClock, node_secrets: NodeSecrets) -> None:
    """The café of docs/kpis.md: four members over December to April (1 point per krone)."""
    clock.set(datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC) + timedelta(microseconds=999_999))
    ann = make_customer(db, node_secrets, clock)
    earn(db, settings, clock, ann, 10_000)  # the last moment of December: the lead-in month
    at(clock, 2026, 1, 1)  # the first moment of January
    bo = make_customer(db, node_secrets, clock)
    earn(db, settings, clock, bo, 20_000)
    at(clock, 2026, 1, 15, 12)
    earn(db, settings, clock, ann, 5_000)
    redeem(db, clock, ann, 30)
    clock.set(datetime(2026, 2, 1, tzinfo=UTC) - TICK)  # the last moment of January
    make_customer(db, node_secrets, clock)  # Cy enrols and never buys
    # February: nothing at all.
    at(clock, 2026, 3, 1)
    earn(db, settings, clock, bo, 4_000)
    at(clock, 2026, 3, 10)
    redeem(db, clock, bo, 100)
    at(clock, 2026, 3, 20)
    di = make_customer(db, node_secrets, clock)
    earn(db, settings, clock, di, 1_001)
    at(clock, 2026, 4, 1)  # the first moment after the report: not counted
    earn(db, settings, clock, ann, 99_900)
    make_customer(db, node_secrets, clock)


@pytest.mark.usefixtures("shop")
def test_month_buckets_worked_example(db: Database) -> None:
    report = months(db)
    assert [(b.start, b.end) for b in report.buckets] == [
        (date(2026, 1, 1), date(2026, 2, 1)),
        (date(2026, 2, 1), date(2026, 3, 1)),
        (date(2026, 3, 1), date(2026, 4, 1)),
    ]
    january, february, march = (b.figures for b in report.buckets)
    assert january == Figures(
        enrolments=2,  # Bo at the first moment, Cy at the last
        active_members=2,  # Ann (earn, redeem), Bo (earn)
        retention_rate=ratio(1, 1, 10_000),  # Ann, the one member active in December, is back
        redemption_rate=ratio(30, 250, 1_200),  # 30 of 200 + 50 issued
        average_order_value=ratio(25_000, 2, 12_500),
        customer_lifetime_value=ratio(35_000, 3, 11_666),  # Ann, Bo, Cy; 35 000 / 3 rounded down
        engagement=ratio(3, 2, 15_000),  # 3 transactions by 2 members: 1.5 each
    )
    assert february == Figures(
        enrolments=0,
        active_members=0,
        retention_rate=ratio(0, 2, 0),  # nobody of January's two came back
        redemption_rate=ratio(0, 0, None),
        average_order_value=ratio(0, 0, None),
        customer_lifetime_value=ratio(35_000, 3, 11_666),  # unchanged: no spend, no members
        engagement=ratio(0, 0, None),
    )
    assert march == Figures(
        enrolments=1,  # Di
        active_members=2,  # Bo, Di
        retention_rate=ratio(0, 0, None),  # nobody was active in February
        redemption_rate=ratio(100, 50, 20_000),  # Bo spends points from January: 200 %
        average_order_value=ratio(5_001, 2, 2_500),
        customer_lifetime_value=ratio(40_001, 4, 10_000),
        engagement=ratio(3, 2, 15_000),
    )


@pytest.mark.usefixtures("shop")
def test_totals_count_each_member_once_and_pool_the_ratios(db: Database) -> None:
    totals = months(db).totals
    assert totals == Figures(
        enrolments=3,
        active_members=3,  # Ann, Bo, Di over the whole quarter
        retention_rate=ratio(1, 3, 3_333),  # (1 + 0 + 0) / (1 + 2 + 0)
        redemption_rate=ratio(130, 300, 4_333),
        average_order_value=ratio(30_001, 4, 7_500),
        customer_lifetime_value=ratio(40_001, 4, 10_000),  # as at the end of March
        engagement=ratio(6, 3, 20_000),
    )


@pytest.mark.usefixtures("shop")
def test_a_range_that_starts_mid_month_has_partial_buckets(db: Database) -> None:
    report = kpi_report(db, start=date(2026, 1, 15), end=date(2026, 3, 5), period="month")
    assert [(b.start, b.end) for b in report.buckets] == [
        (date(2026, 1, 15), date(2026, 2, 1)),
        (date(2026, 2, 1), date(2026, 3, 1)),
        (date(2026, 3, 1), date(2026, 3, 5)),
    ]
    january, _, march = (b.figures for b in report.buckets)
    # Bo's purchase on 1 January is before the report; Ann's on the 15th is in it.
    assert january.average_order_value == ratio(5_000, 1, 5_000)
    assert january.active_members == 1
    # Before the first bucket, the lead-in is one month back: 15 December to 15 January.
    # Ann and Bo were active then; only Ann again from the 15th.
    assert january.retention_rate == ratio(1, 2, 5_000)
    assert january.enrolments == 1  # Cy; Bo enrolled before the 15th
    assert march.customer_lifetime_value == ratio(39_000, 3, 13_000)
    assert march.redemption_rate == ratio(0, 40, 0)


def test_an_empty_node_reports_zeros_and_nulls(db: Database) -> None:
    report = months(db)
    assert len(report.buckets) == 3
    empty = Figures(
        enrolments=0,
        active_members=0,
        retention_rate=ratio(0, 0, None),
        redemption_rate=ratio(0, 0, None),
        average_order_value=ratio(0, 0, None),
        customer_lifetime_value=ratio(0, 0, None),
        engagement=ratio(0, 0, None),
    )
    assert all(b.figures == empty for b in report.buckets)
    assert report.totals == empty


def test_redemption_rate_counts_bonuses_actions_rewards_and_returns(
    db: Database, settings: Settings, clock: ManualClock, node_secrets: NodeSecrets
) -> None:
    at(clock, 2026, 5, 4)
    member = make_customer(db, node_secrets, clock)
    earn(db, settings, clock, member, 30_000)  # earn +300
    post_points(db, clock, member, "bonus", 50)  # issued, but not the member's doing
    post_points(db, clock, member, "action", 150)  # issued, and an engagement action
    post_points(db, clock, member, "reward", -200)  # a voucher bought with points
    post_points(db, clock, member, "reward-return", 200)  # ... cancelled: points back
    post_points(db, clock, member, "reward", -120)
    redeem(db, clock, member, 80)
    post_points(db, clock, member, "expire", -10)  # neither issued nor redeemed
    report = kpi_report(db, start=date(2026, 5, 4), end=date(2026, 5, 11), period="week")
    week = report.buckets[0].figures
    # issued 300 + 50 + 150 = 500; redeemed 200 - 200 + 120 + 80 = 200
    assert week.redemption_rate == ratio(200, 500, 4_000)
    # earn, action, reward, reward, redeem: 5 (bonus, reward-return and expire are not hers)
    assert week.engagement == ratio(5, 1, 50_000)
    assert week.active_members == 1


def test_week_buckets_start_on_monday_in_the_report_time_zone(
    db: Database, settings: Settings, clock: ManualClock, node_secrets: NodeSecrets
) -> None:
    # Thursday 1 January 2026 to Monday 19 January: a partial week, then two whole ones.
    at(clock, 2025, 12, 29, 9)  # Monday of the lead-in week (Copenhagen)
    ann = make_customer(db, node_secrets, clock)
    earn(db, settings, clock, ann, 1_000)
    # Sunday 4 January 23:00 UTC is Monday 5 January 00:00 in Copenhagen (UTC+1).
    at(clock, 2026, 1, 4, 23)
    earn(db, settings, clock, ann, 2_000)
    at(clock, 2026, 1, 12, 8)
    bo = make_customer(db, node_secrets, clock)
    earn(db, settings, clock, bo, 3_000)
    earn(db, settings, clock, ann, 4_000)

    copenhagen = kpi_report(
        db,
        start=date(2026, 1, 1),
        end=date(2026, 1, 19),
        period="week",
        tz=ZoneInfo("Europe/Copenhagen"),
    )
    assert copenhagen.time_zone == "Europe/Copenhagen"
    assert [(b.start, b.end) for b in copenhagen.buckets] == [
        (date(2026, 1, 1), date(2026, 1, 5)),
        (date(2026, 1, 5), date(2026, 1, 12)),
        (date(2026, 1, 12), date(2026, 1, 19)),
    ]
    first, second, third = (b.figures for b in copenhagen.buckets)
    assert first.active_members == 0
    assert first.retention_rate == ratio(0, 1, 0)  # Ann was active in the lead-in week
    assert second.average_order_value == ratio(2_000, 1, 2_000)
    assert second.retention_rate == ratio(0, 0, None)
    assert third.active_members == 2
    assert third.retention_rate == ratio(1, 1, 10_000)
    assert third.average_order_value == ratio(7_000, 2, 3_500)
    assert third.customer_lifetime_value == ratio(10_000, 2, 5_000)

    utc = kpi_report(db, start=date(2026, 1, 1), end=date(2026, 1, 19), period="week")
    first, second, third = (b.figures for b in utc.buckets)
    assert first.average_order_value == ratio(2_000, 1, 2_000)  # Sunday in UTC
    assert second.active_members == 0
    assert third.retention_rate == ratio(0, 0, None)


def test_quarter_and_year_buckets(
    db: Database, settings: Settings, clock: ManualClock, node_secrets: NodeSecrets
) -> None:
    at(clock, 2026, 3, 31, 23, 59)
    member = make_customer(db, node_secrets, clock)
    earn(db, settings, clock, member, 1_000)
    at(clock, 2026, 4, 1)
    earn(db, settings, clock, member, 3_000)
    quarters = kpi_report(db, start=date(2026, 1, 1), end=date(2027, 1, 1), period="quarter")
    assert [b.start for b in quarters.buckets] == [
        date(2026, 1, 1),
        date(2026, 4, 1),
        date(2026, 7, 1),
        date(2026, 10, 1),
    ]
    assert [b.figures.average_order_value.value for b in quarters.buckets] == [
        1_000,
        3_000,
        None,
        None,
    ]
    assert [b.figures.retention_rate.value for b in quarters.buckets] == [None, 10_000, 0, None]
    years = kpi_report(db, start=date(2025, 1, 1), end=date(2027, 1, 1), period="year")
    assert [b.figures.average_order_value for b in years.buckets] == [
        ratio(0, 0, None),
        ratio(4_000, 2, 2_000),
    ]
    assert years.totals.customer_lifetime_value == ratio(4_000, 1, 4_000)


def test_refunds_reduce_net_spend_in_the_month_they_are_made(
    db: Database, settings: Settings, clock: ManualClock, node_secrets: NodeSecrets
) -> None:
    from node.services import refunds
    from node.services.idempotency import run_idempotent

    def refund(customer: str, transaction: str, amount: int) -> None:
        run_idempotent(
            db,
            refunds.refund_unit(
                customer_id=customer,
                transaction_id=transaction,
                order_ref=None,
                amount=amount,
                reference=None,
                idempotency_key=f"refund-{amount}-{clock.now().isoformat()}",
                now=clock.now(),
            ),
        )

    at(clock, 2026, 1, 10)
    eva = make_customer(db, node_secrets, clock)
    first = earn(db, settings, clock, eva, 10_000)["transaction"]["id"]
    second = earn(db, settings, clock, eva, 20_000)["transaction"]["id"]
    at(clock, 2026, 1, 20)
    refund(eva, first, 4_000)  # January: 30 000 sold, 4 000 refunded
    at(clock, 2026, 2, 5)
    refund(eva, second, 20_000)  # February: nothing sold, 20 000 refunded
    january, february, _ = (b.figures for b in months(db).buckets)
    assert january.average_order_value == ratio(26_000, 2, 13_000)
    assert january.customer_lifetime_value == ratio(26_000, 1, 26_000)
    # Net sales of the month go negative; with no purchase there is no average.
    assert february.average_order_value == ratio(-20_000, 0, None)
    assert february.customer_lifetime_value == ratio(6_000, 1, 6_000)
