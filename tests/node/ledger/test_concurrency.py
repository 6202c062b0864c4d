"""Racing writers: the balance never goes negative and no key earns twice.

Each test runs the writers on separate threads, each through its own
Database (its own connection pool, as separate processes would have), and
releases them together with a barrier.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from node.clock import ManualClock
from node.db import Database
from node.errors import InsufficientPoints
from node.secrets import NodeSecrets
from node.services import ledger
from node.services.verification import verify_ledger
from node.settings import Settings
from tests.factories import earn, make_customer, redeem


def race(database_url: str, workers: list[Callable[[Database], Any]]) -> list[Any]:
    """Run each worker on its own thread and Database; return results or exceptions."""
    barrier = threading.Barrier(len(workers))
    results: list[Any] = [None] * len(workers)

    def run(index: int) -> None:
        own = Database(database_url)
        try:
            barrier.wait()
            results[index] = workers[index](own)
        except Exception as exc:
            results[index] = exc
        finally:
            own.dispose()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(workers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.parametrize("round_", range(3))
def test_two_redemptions_racing_for_the_last_points(
    database_url: str,
    db: Database,
    settings: Settings,
    clock: ManualClock,
    node_secrets: NodeSecrets,
    round_: int,
) -> None:
    customer = make_customer(db, node_secrets, clock)
    earn(db, settings, clock, customer, 10_000)  # 100 points
    results = race(
        database_url,
        [lambda own, i=i: redeem(own, clock, customer, 80, key=f"r{i}") for i in range(2)],
    )
    wins = [r for r in results if isinstance(r, dict)]
    losses = [r for r in results if isinstance(r, InsufficientPoints)]
    assert (len(wins), len(losses)) == (1, 1), results
    assert ledger.customer_balance(db, customer_id=customer, now=clock.now()).points == 20
    assert verify_ledger(db).ok


def test_many_redemptions_never_overdraw(
    database_url: str,
    db: Database,
    settings: Settings,
    clock: ManualClock,
    node_secrets: NodeSecrets,
) -> None:
    customer = make_customer(db, node_secrets, clock)
    earn(db, settings, clock, customer, 10_000)  # 100 points
    results = race(
        database_url,
        [lambda own, i=i: redeem(own, clock, customer, 15, key=f"r{i}") for i in range(8)],
    )
    wins = [r for r in results if isinstance(r, dict)]
    assert all(isinstance(r, dict | InsufficientPoints) for r in results), results
    assert len(wins) == 6  # 6 x 15 = 90; a seventh would need 105
    assert ledger.customer_balance(db, customer_id=customer, now=clock.now()).points == 10
    assert verify_ledger(db).ok


def test_the_same_key_sent_concurrently_earns_once(
    database_url: str,
    db: Database,
    settings: Settings,
    clock: ManualClock,
    node_secrets: NodeSecrets,
) -> None:
    customer = make_customer(db, node_secrets, clock)
    results = race(
        database_url,
        [lambda own: earn(own, settings, clock, customer, 10_000, key="dup")] * 4,
    )
    assert all(isinstance(r, dict) for r in results), results
    assert len({r["transaction"]["id"] for r in results}) == 1
    assert ledger.customer_balance(db, customer_id=customer, now=clock.now()).points == 100
    assert verify_ledger(db).ok
