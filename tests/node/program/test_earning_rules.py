"""The earn arithmetic of node.program.earning, rule by rule, on the café program."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node.program import parse_program
from node.program.config import Program
from node.program.earning import Earning, Line, compute_earning
from tests.node.program.cafe import cafe_program, dk

WEDNESDAY = dk(2026, 3, 4, 10)  # members week, cake month
SATURDAY = dk(2026, 3, 7, 11)  # also the double points weekend
FEBRUARY = dk(2026, 2, 20, 12)  # no campaign


def earn(
    program: Program, lines: dict[str | None, int], *, when: Any = FEBRUARY, tier: str = "bronze"
) -> Earning:
    return compute_earning(
        program,
        lines=[Line(amount, category) for category, amount in lines.items()],
        moment=when,
        tier=tier,
        currency_exponent=2,
    )


def with_campaigns(*campaigns: dict[str, Any]) -> Program:
    data = cafe_program().model_dump(mode="json")
    data["campaigns"] = [
        {
            "name": campaign["code"],
            "starts_at": "2026-03-01T00:00:00+01:00",
            "ends_at": "2026-04-01T00:00:00+02:00",
            **campaign,
        }
        for campaign in campaigns
    ]
    return parse_program(data)


@pytest.mark.parametrize(
    ("amount", "points"),
    [(1999, 0), (2000, 20), (2099, 20), (5790, 57), (10000, 100), (123456, 1234)],
)
def test_base_points_round_down_and_the_minimum_purchase_earns_nothing(
    amount: int, points: int
) -> None:
    assert earn(cafe_program(), {None: amount}).points == points


def test_lines_are_rounded_once_for_the_whole_purchase() -> None:
    # Three buns at 15 kr earn 22.5 points each: 67.5 together, so 67, not 3 x 22 = 66.
    assert earn(cafe_program(), {"pastry": 4500}).points == 67
    split = compute_earning(
        cafe_program(),
        lines=[Line(1500, "pastry")] * 3,
        moment=FEBRUARY,
        tier="bronze",
        currency_exponent=2,
    )
    assert split.points == 67


def test_a_campaign_starts_at_starts_at_and_stops_at_ends_at() -> None:
    weekend = cafe_program().campaigns[0]
    program = cafe_program()
    before = earn(program, {None: 10000}, when=weekend.starts_at - timedelta(microseconds=1))
    assert before.campaigns == ()
    assert earn(program, {None: 10000}, when=weekend.starts_at).campaigns == ("double-weekend",)
    assert earn(program, {None: 10000}, when=weekend.ends_at).campaigns == ()


def test_a_category_campaign_multiplies_only_its_lines() -> None:
    program = with_campaigns(
        {
            "code": "bean-boost",
            "kind": "multiplier",
            "multiplier_percent": 150,
            "categories": ["beans"],
        }
    )
    # coffee 50 kr: 50; beans 100 kr: 200 base + 50 % of 200 = 300.
    result = earn(program, {"coffee": 5000, "beans": 10000}, when=WEDNESDAY)
    assert (result.base_points, result.points, result.campaigns) == (250, 350, ("bean-boost",))


def test_stackable_fixed_bonuses_add_up_and_the_best_lone_one_wins_if_larger() -> None:
    stackable = [
        {"code": "five", "kind": "fixed", "bonus_points": 5},
        {"code": "seven", "kind": "fixed", "bonus_points": 7},
    ]
    assert earn(with_campaigns(*stackable), {None: 3000}, when=WEDNESDAY).points == 30 + 12
    lone_small = {"code": "ten", "kind": "fixed", "bonus_points": 10, "stackable": False}
    result = earn(with_campaigns(*stackable, lone_small), {None: 3000}, when=WEDNESDAY)
    assert (result.points, result.campaigns) == (42, ("five", "seven"))
    lone_big = {"code": "twenty", "kind": "fixed", "bonus_points": 20, "stackable": False}
    result = earn(with_campaigns(*stackable, lone_big), {None: 3000}, when=WEDNESDAY)
    assert (result.points, result.campaigns) == (50, ("twenty",))


def test_the_lone_campaign_loses_to_a_larger_sum_of_stackable_ones() -> None:
    program = with_campaigns(
        {"code": "double", "kind": "multiplier", "multiplier_percent": 200},
        {"code": "and-a-half", "kind": "multiplier", "multiplier_percent": 150},
        {"code": "lone", "kind": "multiplier", "multiplier_percent": 240, "stackable": False},
    )
    # Stackable: +100 % +50 % = +150 %; lone: +140 %. The stackable ones win.
    result = earn(program, {None: 10000}, when=WEDNESDAY, tier="silver")
    assert (result.points, result.campaigns) == (260, ("double", "and-a-half"))


def test_a_member_only_campaign_for_the_entry_tier_reaches_new_members() -> None:
    program = with_campaigns(
        {"code": "welcome", "kind": "multiplier", "multiplier_percent": 200, "tiers": ["bronze"]}
    )
    assert earn(program, {None: 10000}, when=WEDNESDAY, tier="bronze").points == 200
    assert earn(program, {None: 10000}, when=WEDNESDAY, tier="silver").points == 110


def test_a_campaign_minimum_counts_the_whole_purchase() -> None:
    program = cafe_program()
    # The cake bonus needs 50 kr in all, not 50 kr of pastry.
    result = earn(program, {"coffee": 4000, "pastry": 1000}, when=WEDNESDAY)
    assert (result.points, result.campaigns) == (40 + 15 + 10, ("cake-month",))


def test_the_earn_rate_multiplies_everything() -> None:
    data = cafe_program().model_dump(mode="json")
    data["earn"]["points_per_unit"] = 3
    program = parse_program(data)
    result = earn(program, {"beans": 12000}, when=SATURDAY, tier="gold")
    assert (result.base_points, result.points) == (720, 720 * 325 // 100)


def test_below_the_minimum_purchase_there_is_no_fixed_bonus_either() -> None:
    program = with_campaigns({"code": "hello", "kind": "fixed", "bonus_points": 25})
    assert earn(program, {None: 1999}, when=WEDNESDAY).points == 0
    assert earn(program, {None: 2000}, when=WEDNESDAY).points == 20 + 25


# -- the memo: a program object remembers which campaigns apply per class of purchase --

_OVERLAPPING = [
    {"code": "early", "kind": "multiplier", "multiplier_percent": 150, "stackable": True,
     "ends_at": "2026-03-10T00:00:00+01:00"},
    {"code": "late", "kind": "multiplier", "multiplier_percent": 300, "stackable": False,
     "starts_at": "2026-03-05T12:00:00+01:00", "minimum_purchase": 5000},
    {"code": "cake", "kind": "multiplier", "multiplier_percent": 200, "stackable": True,
     "categories": ["cake"], "tiers": ["silver", "gold"]},
    {"code": "bonus", "kind": "fixed", "bonus_points": 25, "stackable": True,
     "minimum_purchase": 3000, "categories": ["coffee"]},
]  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    purchases=st.lists(
        st.tuples(
            st.sampled_from(
                [dk(2026, 3, 1, 0), dk(2026, 3, 5, 12), dk(2026, 3, 10, 0), dk(2026, 4, 1, 0)]
            ),
            st.sampled_from([-timedelta(microseconds=1), timedelta(0), timedelta(hours=5)]),
            st.lists(
                st.tuples(st.sampled_from([None, "cake", "coffee"]), st.integers(1, 6000)),
                min_size=1,
                max_size=3,
            ),
            st.sampled_from(["bronze", "silver", "gold", None]),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_a_program_earns_the_same_on_every_purchase_as_a_fresh_copy_of_it(
    purchases: list[tuple[Any, timedelta, list[tuple[str | None, int]], str | None]],
) -> None:
    # One program object sees purchases at, just before and after each campaign
    # boundary and around each minimum; each must earn what a program parsed
    # afresh (with nothing remembered) earns.
    program = with_campaigns(*_OVERLAPPING)
    for boundary, offset, basket, tier in purchases:
        kwargs: dict[str, Any] = {
            "lines": [Line(amount, category) for category, amount in basket],
            "moment": boundary + offset,
            "tier": tier,
            "currency_exponent": 2,
        }
        assert compute_earning(program, **kwargs) == compute_earning(
            with_campaigns(*_OVERLAPPING), **kwargs
        )
