"""The rewards service: rules of the catalogue, codes, and the ledger around vouchers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from node.clock import ManualClock
from node.db import Database
from node.errors import Conflict, InsufficientPoints, NotFound, ValidationFailed
from node.program import parse_program
from node.secrets import NodeSecrets
from node.services import rewards, vouchers
from node.services.program import update_program
from node.services.verification import verify_ledger
from node.settings import Settings
from tests.factories import earn, make_customer
from tests.node.rewards.conftest import PROGRAM, balance, issue, set_tier, snapshot


def test_voucher_codes_are_random_crockford_base32_in_groups() -> None:
    codes = {vouchers.new_voucher_code() for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        groups = code.split("-")
        assert [len(g) for g in groups] == [4, 4, 4]
        assert set("".join(groups)) <= set(vouchers.ALPHABET)
        assert vouchers.canonical_voucher_code(code) == code


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("7KQM-2XHD-9RTA", "7KQM-2XHD-9RTA"),
        ("7kqm2xhd9rta", "7KQM-2XHD-9RTA"),
        (" 7KQM 2XHD 9RTA ", "7KQM-2XHD-9RTA"),
        ("OIL0-0000-0000", "0110-0000-0000"),  # O reads as 0, I and L as 1
        ("7KQM-2XHD-9RT", None),
        ("7KQM-2XHD-9RTAA", None),
        ("7KQM-2XHD-9RTU", None),  # U is not in the alphabet
        ("7KQM-2XHD-9RT!", None),
        ("", None),
    ],
)
def test_a_typed_code_is_read_generously(typed: str, canonical: str | None) -> None:
    assert vouchers.canonical_voucher_code(typed) == canonical


def test_redeem_use_cancel_through_the_service(
    db: Database, settings: Settings, clock: ManualClock, member: str
) -> None:
    body = issue(db, settings, clock, member, "free-coffee")
    code = body["voucher"]["code"]
    assert balance(db, clock, member) == 700
    checked = vouchers.check_voucher(db, settings, code=code, now=clock.now())
    assert checked["status"] == "issued" and checked["points"] == 300
    cancelled = vouchers.cancel_voucher(
        db, settings, code=code, owner=member, idempotency_key="c", now=clock.now()
    )
    assert cancelled.status_code == 200 and cancelled.body["balance"] == 1000
    with pytest.raises(Conflict) as refused:
        vouchers.use_voucher(
            db, settings, code=code, reference=None, idempotency_key="u", now=clock.now()
        )
    assert refused.value.code == "voucher_cancelled"
    totals = verify_ledger(db).totals
    assert totals["program:redeemed"] == 0 and totals["customer"] == 1000


def test_the_ledger_moves_points_to_redeemed_and_back(
    db: Database, settings: Settings, clock: ManualClock, member: str
) -> None:
    first = issue(db, settings, clock, member, "tote-bag")["voucher"]["code"]
    issue(db, settings, clock, member, "free-coffee")
    report = verify_ledger(db)
    assert report.ok
    assert report.totals["program:redeemed"] == 800
    assert report.totals["customer"] == 200
    assert report.totals["program:issued"] == -1000
    vouchers.cancel_voucher(
        db, settings, code=first, owner=None, idempotency_key="c", now=clock.now()
    )
    report = verify_ledger(db)
    assert report.ok and report.totals["program:redeemed"] == 300
    assert report.totals["customer"] == 700


def test_points_are_spent_oldest_first(
    db: Database, settings: Settings, clock: ManualClock, node_secrets: NodeSecrets, program: Any
) -> None:
    customer = make_customer(db, node_secrets, clock)
    earn(db, settings, clock, customer, 20_000)  # 200 points, expire 2027-01-01
    clock.advance(timedelta(days=10))
    earn(db, settings, clock, customer, 20_000)  # 200 points, expire 2027-01-11
    issue(db, settings, clock, customer, "free-coffee")  # 300: all of the first lot, 100 more
    clock.set(datetime(2027, 1, 2, tzinfo=UTC))
    assert balance(db, clock, customer) == 100


def test_member_only_rewards_follow_the_stored_tier(
    db: Database, settings: Settings, clock: ManualClock, member: str
) -> None:
    with pytest.raises(Conflict) as refused:
        issue(db, settings, clock, member, "gold-lounge")
    assert (refused.value.code, refused.value.http_status) == ("tier_required", 409)
    set_tier(db, member, "gold", clock)
    assert issue(db, settings, clock, member, "gold-lounge")["voucher"]["points"] == 100


def test_without_tiers_a_member_only_reward_needs_no_tier(
    db: Database, settings: Settings, clock: ManualClock, node_secrets: NodeSecrets
) -> None:
    plain = {"rewards": [{"code": "tote-bag", "name": "Tote bag", "points": 50}]}
    update_program(
        db, settings, program=parse_program(plain), actor="t", comment=None, now=clock.now()
    )
    customer = make_customer(db, node_secrets, clock)
    earn(db, settings, clock, customer, 10_000)
    catalogue = rewards.member_catalogue(db, settings, customer_id=customer, now=clock.now())
    assert catalogue.tier is None and [e.reward.code for e in catalogue.entries] == ["tote-bag"]


def test_the_availability_window_is_half_open(
    db: Database, settings: Settings, clock: ManualClock, member: str
) -> None:
    clock.set(datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC))
    with pytest.raises(Conflict) as early:
        issue(db, settings, clock, member, "xmas-cake")
    assert early.value.code == "reward_unavailable"
    clock.set(datetime(2026, 12, 1, tzinfo=UTC))
    assert issue(db, settings, clock, member, "xmas-cake")["voucher"]["reward"] == "xmas-cake"
    clock.set(datetime(2026, 12, 25, tzinfo=UTC))
    with pytest.raises(Conflict):
        issue(db, settings, clock, member, "xmas-cake")


def test_the_program_in_force_decides(
    db: Database, settings: Settings, clock: ManualClock, member: str
) -> None:
    """A new version that raises the price and drops a reward applies from its moment on."""
    issue(db, settings, clock, member, "tote-bag")
    clock.advance(timedelta(days=1))
    changed = {
        **PROGRAM,
        "rewards": [{"code": "free-coffee", "name": "Coffee", "points": 400, "stock": 2}],
    }
    update_program(
        db, settings, program=parse_program(changed), actor="t", comment=None, now=clock.now()
    )
    with pytest.raises(ValidationFailed) as gone:
        issue(db, settings, clock, member, "tote-bag")
    assert gone.value.code == "reward_unknown" and gone.value.http_status == 422
    coffee = issue(db, settings, clock, member, "free-coffee")["voucher"]
    assert coffee["points"] == 400 and coffee["reward_name"] == "Coffee"
    assert coffee["expires_at"] is None
    # A voucher of a reward that left the program still works and shows no name.
    [_, tote] = vouchers.customer_vouchers(
        db, settings, customer_id=member, limit=10, cursor=None, now=clock.now()
    ).items
    assert tote["reward"] == "tote-bag" and tote["reward_name"] is None
    # The stock counted before the change still counts.
    assert [e.stock_left for e in rewards.catalogue(db, settings, now=clock.now())] == [1]


def test_a_stock_of_zero_is_out_of_stock(
    db: Database, settings: Settings, clock: ManualClock, member: str
) -> None:
    sold_out = {**PROGRAM, "rewards": [{"code": "mug", "name": "Mug", "points": 10, "stock": 0}]}
    update_program(
        db, settings, program=parse_program(sold_out), actor="t", comment=None, now=clock.now()
    )
    assert rewards.catalogue(db, settings, now=clock.now()) == []
    before = snapshot(db)
    with pytest.raises(Conflict) as refused:
        issue(db, settings, clock, member, "mug")
    assert refused.value.code == "out_of_stock"
    assert snapshot(db) == before


def test_refusals_in_the_service_write_nothing(
    db: Database, settings: Settings, clock: ManualClock, node_secrets: NodeSecrets, member: str
) -> None:
    poor = make_customer(db, node_secrets, clock)
    earn(db, settings, clock, poor, 29_900)  # 299 points: one short of a coffee
    before = snapshot(db)
    with pytest.raises(InsufficientPoints):
        issue(db, settings, clock, poor, "free-coffee")
    with pytest.raises(NotFound):
        issue(db, settings, clock, "cus_nobody", "free-coffee")
    assert snapshot(db) == before
    assert rewards.catalogue(db, settings, now=clock.now())[0].stock_left == 2


def test_the_limit_counts_used_and_expired_vouchers_but_not_cancelled_ones(
    db: Database, settings: Settings, clock: ManualClock, member: str
) -> None:
    code = issue(db, settings, clock, member, "free-coffee")["voucher"]["code"]
    clock.advance(timedelta(days=40))  # the voucher has expired
    with pytest.raises(Conflict) as refused:
        issue(db, settings, clock, member, "free-coffee")
    assert refused.value.code == "limit_reached"
    vouchers.cancel_voucher(
        db, settings, code=code, owner=member, idempotency_key="c", now=clock.now()
    )
    again = issue(db, settings, clock, member, "free-coffee")["voucher"]["code"]
    vouchers.use_voucher(
        db, settings, code=again, reference=None, idempotency_key="u", now=clock.now()
    )
    with pytest.raises(Conflict) as used:
        issue(db, settings, clock, member, "free-coffee")
    assert used.value.code == "limit_reached"
    assert verify_ledger(db).ok
