"""Racing redeemers and tills against the real database: one winner each time.

Each worker runs on its own thread with its own Database (its own connection
pool, as separate processes would have); a barrier releases them together.
"""

from __future__ import annotations

from typing import Any

import pytest

from node.clock import ManualClock
from node.db import Database
from node.errors import Conflict
from node.secrets import NodeSecrets
from node.services import rewards, vouchers
from node.services.verification import verify_ledger
from node.settings import Settings
from tests.factories import earn, make_customer
from tests.node.ledger.test_concurrency import race
from tests.node.rewards.conftest import balance, issue


def conflicts(results: list[Any]) -> list[str]:
    return [r.code for r in results if isinstance(r, Conflict)]


@pytest.mark.parametrize("round_", range(3))
def test_racing_redeemers_for_the_last_unit(
    database_url: str,
    db: Database,
    settings: Settings,
    clock: ManualClock,
    node_secrets: NodeSecrets,
    member: str,
    round_: int,
) -> None:
    issue(db, settings, clock, member, "free-coffee")  # one of two left
    racers = []
    for _ in range(3):
        customer = make_customer(db, node_secrets, clock)
        earn(db, settings, clock, customer, 100_000)
        racers.append(customer)
    results = race(
        database_url,
        [lambda own, c=c: issue(own, settings, clock, c, "free-coffee") for c in racers],
    )
    wins = [r for r in results if isinstance(r, dict)]
    assert len(wins) == 1 and conflicts(results) == ["out_of_stock"] * 2, results
    assert sorted(balance(db, clock, c) for c in racers) == [700, 1000, 1000]
    assert rewards.catalogue(db, settings, now=clock.now())[0].reward.code == "tote-bag"
    assert verify_ledger(db).ok


def test_one_member_racing_for_a_once_only_reward(
    database_url: str, db: Database, settings: Settings, clock: ManualClock, member: str
) -> None:
    results = race(
        database_url,
        [lambda own: issue(own, settings, clock, member, "free-coffee") for _ in range(3)],
    )
    wins = [r for r in results if isinstance(r, dict)]
    assert len(wins) == 1 and conflicts(results) == ["limit_reached"] * 2, results
    assert balance(db, clock, member) == 700
    assert verify_ledger(db).ok


def test_two_tills_racing_to_use_one_code(
    database_url: str, db: Database, settings: Settings, clock: ManualClock, member: str
) -> None:
    code = issue(db, settings, clock, member, "tote-bag")["voucher"]["code"]
    results = race(
        database_url,
        [
            lambda own, i=i: (
                vouchers.use_voucher(
                    own,
                    settings,
                    code=code,
                    reference=f"till {i}",
                    idempotency_key=f"till{i}:use",
                    now=clock.now(),
                ).body
            )
            for i in range(3)
        ],
    )
    wins = [r for r in results if isinstance(r, dict)]
    assert len(wins) == 1 and conflicts(results) == ["voucher_used"] * 2, results
    checked = vouchers.check_voucher(db, settings, code=code, now=clock.now())
    assert checked["status"] == "used" and checked["used_reference"] == wins[0]["used_reference"]


def test_using_and_cancelling_at_once(
    database_url: str, db: Database, settings: Settings, clock: ManualClock, member: str
) -> None:
    code = issue(db, settings, clock, member, "tote-bag")["voucher"]["code"]
    results = race(
        database_url,
        [
            lambda own: (
                vouchers.use_voucher(
                    own, settings, code=code, reference=None, idempotency_key="use", now=clock.now()
                ).body
            ),
            lambda own: (
                vouchers.cancel_voucher(
                    own, settings, code=code, owner=None, idempotency_key="cancel", now=clock.now()
                ).body
            ),
        ],
    )
    wins = [r for r in results if isinstance(r, dict)]
    assert len(wins) == 1, results
    [refusal] = conflicts(results)
    status = vouchers.check_voucher(db, settings, code=code, now=clock.now())["status"]
    if status == "used":
        assert refusal == "voucher_used" and balance(db, clock, member) == 500
    else:
        assert refusal == "voucher_cancelled" and balance(db, clock, member) == 1000
    assert verify_ledger(db).ok
