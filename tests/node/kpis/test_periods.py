"""The calendar behind the KPI buckets, and the ratio arithmetic: pure functions."""

from __future__ import annotations

from datetime import UTC, date

import pytest

from node.errors import ValidationFailed
from node.services.kpis import MAX_BUCKETS, Ratio, bucket_dates, period_start, shift, time_zone


@pytest.mark.parametrize(
    ("day", "period", "first"),
    [
        (date(2026, 1, 1), "week", date(2025, 12, 29)),  # a Thursday; ISO week 1 began Monday
        (date(2026, 1, 5), "week", date(2026, 1, 5)),  # a Monday
        (date(2026, 1, 11), "week", date(2026, 1, 5)),  # a Sunday
        (date(2026, 2, 28), "month", date(2026, 2, 1)),
        (date(2026, 8, 17), "quarter", date(2026, 7, 1)),
        (date(2026, 12, 31), "year", date(2026, 1, 1)),
        (date(2026, 3, 3), "day", date(2026, 3, 3)),
    ],
)
def test_period_start(day: date, period: str, first: date) -> None:
    assert period_start(day, period) == first  # type: ignore[arg-type]


def test_shift_clamps_to_the_end_of_a_shorter_month() -> None:
    assert shift(date(2026, 3, 31), "month", -1) == date(2026, 2, 28)
    assert shift(date(2024, 3, 31), "month", -1) == date(2024, 2, 29)
    assert shift(date(2026, 1, 31), "quarter", 1) == date(2026, 4, 30)
    assert shift(date(2026, 1, 15), "month", -1) == date(2025, 12, 15)
    assert shift(date(2024, 2, 29), "year", 1) == date(2025, 2, 28)
    assert shift(date(2026, 1, 1), "week", -1) == date(2025, 12, 25)


def test_buckets_follow_the_calendar_and_clip_at_both_ends() -> None:
    assert bucket_dates(date(2026, 1, 1), date(2026, 7, 1), "quarter") == [
        (date(2026, 1, 1), date(2026, 4, 1)),
        (date(2026, 4, 1), date(2026, 7, 1)),
    ]
    assert bucket_dates(date(2026, 2, 20), date(2026, 4, 10), "month") == [
        (date(2026, 2, 20), date(2026, 3, 1)),
        (date(2026, 3, 1), date(2026, 4, 1)),
        (date(2026, 4, 1), date(2026, 4, 10)),
    ]
    assert bucket_dates(date(2026, 1, 1), date(2026, 1, 2), "year") == [
        (date(2026, 1, 1), date(2026, 1, 2))
    ]


def test_at_most_max_buckets() -> None:
    start = date(2026, 1, 1)
    assert len(bucket_dates(start, date.fromordinal(start.toordinal() + MAX_BUCKETS), "day")) == 400
    with pytest.raises(ValidationFailed) as refused:
        bucket_dates(start, date.fromordinal(start.toordinal() + MAX_BUCKETS + 1), "day")
    assert refused.value.field == "to"


@pytest.mark.parametrize(
    ("start", "end", "period", "field"),
    [
        (date(2026, 2, 1), date(2026, 2, 1), "month", "to"),
        (date(2026, 2, 1), date(2026, 1, 1), "month", "to"),
        (date(1969, 12, 31), date(1970, 2, 1), "month", "from"),
        (date(9998, 6, 1), date(9999, 1, 2), "year", "to"),
        (date(2026, 1, 1), date(2026, 2, 1), "fortnight", "period"),
    ],
)
def test_bad_ranges_are_refused(start: date, end: date, period: str, field: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        bucket_dates(start, end, period)  # type: ignore[arg-type]
    assert refused.value.field == field


def test_time_zones() -> None:
    assert time_zone("UTC") is UTC
    assert str(time_zone("Europe/Oslo")) == "Europe/Oslo"
    for bad in ("Mars/Olympus_Mons", "../../etc/passwd", "Europe/", "zone.tab"):
        with pytest.raises(ValidationFailed) as refused:
            time_zone(bad)
        assert refused.value.field == "tz"


def test_ratios_round_down_and_are_null_without_a_denominator() -> None:
    assert Ratio.rate(1, 3) == Ratio(1, 3, 3_333)
    assert Ratio.rate(2, 3) == Ratio(2, 3, 6_666)
    assert Ratio.rate(5, 0) == Ratio(5, 0, None)
    assert Ratio.average(1_000, 3) == Ratio(1_000, 3, 333)
    assert Ratio.average(-1_000, 3) == Ratio(-1_000, 3, -334)  # floor, towards minus infinity
    assert Ratio.average(0, 0) == Ratio(0, 0, None)
