"""The value rule: integer-only conversion that never creates value."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol import (
    Conversion,
    ConversionError,
    conversion_for,
    convert_points,
    donation_value,
)

values = st.integers(min_value=1, max_value=10_000)
points = st.integers(min_value=1, max_value=10**9)


def test_worked_example_from_the_spec() -> None:
    # 500 cafe points (5 minor units each) to the bookshop (12 each)
    assert convert_points(500, from_value=5, to_value=12) == Conversion(
        sender_points=500, receiver_points=208, value_minor=2496, sender_kept_minor=4
    )
    # a bookshop reward priced 800 bookshop points, paid with cafe points
    assert conversion_for(800, from_value=5, to_value=12) == Conversion(
        sender_points=1920, receiver_points=800, value_minor=9600, sender_kept_minor=0
    )


@given(points, values, values)
def test_convert_points_conserves_value(p: int, a: int, b: int) -> None:
    try:
        c = convert_points(p, from_value=a, to_value=b)
    except ConversionError:
        assert p * a < b  # not even one receiving point
        return
    assert c.sender_points * a == c.value_minor + c.sender_kept_minor  # nothing made or lost
    assert c.value_minor == c.receiver_points * b
    assert 0 <= c.sender_kept_minor < a  # less than one sender point stays behind
    assert 1 <= c.sender_points <= p  # never more than the customer offered
    assert (c.receiver_points + 1) * b > p * a  # as many receiving points as p buys
    assert convert_points(c.sender_points, from_value=a, to_value=b) == c  # idempotent


@given(st.integers(min_value=1, max_value=10**9), values, values)
def test_conversion_for_is_the_cheapest_cover(q: int, a: int, b: int) -> None:
    c = conversion_for(q, from_value=a, to_value=b)
    assert c.receiver_points == q
    assert c.sender_points * a >= q * b > (c.sender_points - 1) * a
    assert c.sender_points * a == c.value_minor + c.sender_kept_minor


@given(points, values, values)
def test_the_receiver_check_recomputes_from_receiver_points(p: int, a: int, b: int) -> None:
    """What a receiver does with a transfer: recompute from receiver_points."""
    try:
        c = convert_points(p, from_value=a, to_value=b)
    except ConversionError:
        return
    assert conversion_for(c.receiver_points, from_value=a, to_value=b) == c


@given(st.lists(st.tuples(points, values, values), min_size=1, max_size=20))
def test_value_is_never_created_over_many_transfers(moves: list[tuple[int, int, int]]) -> None:
    offered = received = kept = 0
    for p, a, b in moves:
        try:
            c = convert_points(p, from_value=a, to_value=b)
        except ConversionError:
            continue
        offered += c.sender_points * a
        received += c.receiver_points * b
        kept += c.sender_kept_minor
    assert received + kept == offered


@pytest.mark.parametrize(
    "args", [(0, 5, 12), (-1, 5, 12), (5, 0, 12), (5, 5, 0), (True, 5, 12), (5.0, 5, 12)]
)
def test_inputs_must_be_positive_integers(args: tuple[object, object, object]) -> None:
    p, a, b = args
    with pytest.raises(ValueError):
        convert_points(p, from_value=a, to_value=b)  # type: ignore[arg-type]


def test_too_small_is_a_conversion_error_with_a_code() -> None:
    with pytest.raises(ConversionError) as caught:
        convert_points(2, from_value=5, to_value=12)
    assert caught.value.code == "amount_too_small"


def test_amounts_beyond_safe_integers_are_refused() -> None:
    with pytest.raises(ValueError):
        conversion_for(2**52, from_value=1, to_value=4)
    with pytest.raises(ValueError):
        donation_value(2**52, point_value=4)


def test_donation_value() -> None:
    assert donation_value(100, point_value=5) == 500
