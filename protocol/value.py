"""Value conversion between two members' points, in integers only.

Each member's point is worth ``point_value`` minor units of the settlement
currency (manifest). Moving points from sender S (value ``a``) to receiver R
(value ``b``) follows one rule, fixed by the number ``q`` of points R credits:

* R credits ``q`` points and is owed ``value_minor = q * b`` in settlement;
* S debits ``sender_points = ceil(q * b / a)``, the fewest of its points that
  cover that value;
* S keeps ``sender_kept_minor = sender_points * a - value_minor`` (always
  ``0 <= kept < a``): its liability fell by more than it pays R.

So ``sender_points * a == value_minor + sender_kept_minor`` exactly: value is
never created, and at most ``a - 1`` minor units (less than one sender point)
stay with the sender. :func:`convert_points` picks the largest ``q`` that a
budget of sender points pays for (``q = floor(points * a / b)``; the customer
keeps the unused points); :func:`conversion_for` prices a given ``q`` (a
reward's price in the receiver's points). A receiver checks a request by
recomputing ``conversion_for(receiver_points)`` and comparing all four numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocol.errors import ConversionError
from protocol.messages import MAX_SAFE_INT


@dataclass(frozen=True, slots=True)
class Conversion:
    """The four numbers a transfer or redemption carries."""

    sender_points: int
    receiver_points: int
    value_minor: int
    sender_kept_minor: int


def _positive(name: str, value: int) -> None:
    if type(value) is not int or not 1 <= value <= MAX_SAFE_INT:
        raise ValueError(f"{name} must be an integer from 1 to 2**53 - 1")


def conversion_for(receiver_points: int, *, from_value: int, to_value: int) -> Conversion:
    """The sender points needed for the receiver to credit ``receiver_points``."""
    _positive("receiver_points", receiver_points)
    _positive("from_value", from_value)
    _positive("to_value", to_value)
    value = receiver_points * to_value
    sender_points = -(-value // from_value)
    if max(value, sender_points) > MAX_SAFE_INT:
        raise ValueError("amount too large")
    return Conversion(
        sender_points=sender_points,
        receiver_points=receiver_points,
        value_minor=value,
        sender_kept_minor=sender_points * from_value - value,
    )


def convert_points(points: int, *, from_value: int, to_value: int) -> Conversion:
    """Spend at most ``points`` sender points on as many receiver points as they buy.

    Raises :class:`~protocol.errors.ConversionError` if they buy none.
    """
    _positive("points", points)
    _positive("from_value", from_value)
    _positive("to_value", to_value)
    receiver_points = points * from_value // to_value
    if receiver_points == 0:
        raise ConversionError(f"{points} points buy no receiving point")
    return conversion_for(receiver_points, from_value=from_value, to_value=to_value)


def donation_value(points: int, *, point_value: int) -> int:
    """The value in minor units of donating ``points`` (no rounding involved)."""
    _positive("points", points)
    _positive("point_value", point_value)
    value = points * point_value
    if value > MAX_SAFE_INT:
        raise ValueError("amount too large")
    return value
