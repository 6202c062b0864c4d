"""Pairwise pseudonyms: stable per (customer, partner), unlinkable across partners."""

from __future__ import annotations

import hashlib
import hmac
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol import b64url_encode, pairwise_pseudonym

SECRET = bytes(range(32))
customers = st.text(min_size=1, max_size=40)
partners = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)


def test_matches_the_specified_construction() -> None:
    message = b"konsort/pairwise/v1" + b"\x00\x00\x00\x03c-1" + b"\x00\x00\x00\x04cafe"
    expected = b64url_encode(hmac.new(SECRET, message, hashlib.sha256).digest())
    assert pairwise_pseudonym(SECRET, customer="c-1", partner="cafe") == expected


@given(customers, partners)
def test_stable_and_well_formed(customer: str, partner: str) -> None:
    first = pairwise_pseudonym(SECRET, customer=customer, partner=partner)
    assert first == pairwise_pseudonym(SECRET, customer=customer, partner=partner)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", first)


@given(customers, partners, partners)
def test_different_partners_see_unrelated_pseudonyms(customer: str, p1: str, p2: str) -> None:
    if p1 != p2:
        a = pairwise_pseudonym(SECRET, customer=customer, partner=p1)
        b = pairwise_pseudonym(SECRET, customer=customer, partner=p2)
        assert a != b


@given(customers, customers, partners)
def test_different_customers_differ_at_one_partner(c1: str, c2: str, partner: str) -> None:
    if c1 != c2:
        assert pairwise_pseudonym(SECRET, customer=c1, partner=partner) != pairwise_pseudonym(
            SECRET, customer=c2, partner=partner
        )


def test_length_prefix_prevents_boundary_shifting() -> None:
    # Without length prefixes "ab"+"c" and "a"+"bc" would collide.
    assert pairwise_pseudonym(SECRET, customer="ab", partner="c") != pairwise_pseudonym(
        SECRET, customer="a", partner="bc"
    )


def test_another_node_secret_gives_other_pseudonyms() -> None:
    other = bytes(range(1, 33))
    assert pairwise_pseudonym(SECRET, customer="c", partner="cafe") != pairwise_pseudonym(
        other, customer="c", partner="cafe"
    )


def test_unlinkability_across_many_customers() -> None:
    """Two partners' pseudonym sets for the same 500 customers share nothing and
    their positions cannot be matched through any common prefix."""
    customers = [f"customer-{i}" for i in range(500)]
    to_a = [pairwise_pseudonym(SECRET, customer=c, partner="cafe") for c in customers]
    to_b = [pairwise_pseudonym(SECRET, customer=c, partner="bookshop") for c in customers]
    assert not set(to_a) & set(to_b)
    same_prefix = sum(a[:2] == b[:2] for a, b in zip(to_a, to_b, strict=True))
    assert same_prefix < 10  # about 500 / 4096 expected by chance


@pytest.mark.parametrize(
    ("secret", "customer", "partner"),
    [(b"short", "c", "cafe"), (SECRET, "", "cafe"), (SECRET, "c", "Café"), (SECRET, "c", "")],
)
def test_bad_inputs(secret: bytes, customer: str, partner: str) -> None:
    with pytest.raises(ValueError):
        pairwise_pseudonym(secret, customer=customer, partner=partner)
