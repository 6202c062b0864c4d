"""points.expiring events: each lot announced once, whatever runs how often."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest

from node.clock import ManualClock, isoformat
from node.db import Database
from node.program import parse_program
from node.secrets import NodeSecrets
from node.services.expiry_warnings import WarningReport, warn_expiring_points
from node.services.program import update_program
from node.settings import Settings
from tests.factories import earn, make_customer, redeem
from tests.node.webhooks.conftest import Receiver, add_webhook, deliver

DAY = timedelta(days=1)


def use_program(db: Database, settings: Settings, clock: ManualClock, **expiry: int) -> None:
    update_program(
        db,
        settings,
        program=parse_program({"expiry": {"days": 365, **expiry}}),
        actor="test",
        comment=None,
        now=clock.now(),
    )


def announced(
    db: Database, node_secrets: NodeSecrets, clock: ManualClock, receiver: Receiver
) -> list[dict[str, Any]]:
    """The points.expiring payloads a receiver gets from one delivery run."""
    before = len(receiver.requests)
    deliver(db, node_secrets, clock.now(), receiver)
    bodies = receiver.bodies()[before:]
    assert all(body["type"] == "points.expiring" for body in bodies)
    return sorted((body["data"] for body in bodies), key=lambda data: data["customer_id"])


@pytest.fixture
def hook(db: Database, node_secrets: NodeSecrets, clock: ManualClock) -> str:
    return add_webhook(db, node_secrets, clock, events=["points.expiring"])[0]


def test_each_lot_is_announced_once(
    db: Database,
    settings: Settings,
    clock: ManualClock,
    node_secrets: NodeSecrets,
    receiver: Receiver,
    hook: str,
) -> None:
    use_program(db, settings, clock, warn_days=30)
    start = clock.now()
    ann, bo = make_customer(db, node_secrets, clock), make_customer(db, node_secrets, clock)
    earn(db, settings, clock, ann, 10_000)  # 100 points, expire at start + 365 days
    clock.advance(5 * DAY)
    earn(db, settings, clock, bo, 4_000)  # 40 points, expire at start + 370 days
    clock.advance(5 * DAY)
    earn(db, settings, clock, ann, 2_500)  # 25 points, expire at start + 375 days

    clock.set(start + 340 * DAY)  # the window is (340, 370]: Ann's first lot and Bo's
    report = warn_expiring_points(db, settings, now=clock.now())
    assert report == WarningReport(customers=2, lots=2, points=140)
    assert announced(db, node_secrets, clock, receiver) == sorted(
        [
            {"customer_id": ann, "points": 100, "expires_at": isoformat(start + 365 * DAY)},
            {"customer_id": bo, "points": 40, "expires_at": isoformat(start + 370 * DAY)},
        ],
        key=lambda data: data["customer_id"],
    )

    assert warn_expiring_points(db, settings, now=clock.now()) == WarningReport(0, 0, 0)
    clock.advance(DAY)
    assert warn_expiring_points(db, settings, now=clock.now()) == WarningReport(0, 0, 0)

    clock.set(start + 346 * DAY)  # Ann's second lot enters the window
    assert warn_expiring_points(db, settings, now=clock.now()) == WarningReport(1, 1, 25)
    assert announced(db, node_secrets, clock, receiver) == [
        {"customer_id": ann, "points": 25, "expires_at": isoformat(start + 375 * DAY)}
    ]


def test_one_event_per_member_with_the_earliest_expiry(
    db: Database, settings: Settings, clock: ManualClock, node_secrets: NodeSecrets, hook: str
) -> None:
    use_program(db, settings, clock, warn_days=30)
    start = clock.now()
    ann = make_customer(db, node_secrets, clock)
    for _ in range(3):
        earn(db, settings, clock, ann, 1_000)
        clock.advance(DAY)
    redeem(db, clock, ann, 4)  # spends from the oldest lot: 6 + 10 + 10 left
    clock.set(start + 360 * DAY)
    assert warn_expiring_points(db, settings, now=clock.now(), batch_size=1) == WarningReport(
        1, 3, 26
    )
    receiver = Receiver()
    assert announced(db, node_secrets, clock, receiver) == [
        {"customer_id": ann, "points": 26, "expires_at": isoformat(start + 365 * DAY)}
    ]


def test_spent_and_already_expired_lots_are_not_announced(
    db: Database, settings: Settings, clock: ManualClock, node_secrets: NodeSecrets, hook: str
) -> None:
    use_program(db, settings, clock, warn_days=30)
    start = clock.now()
    ann, bo = make_customer(db, node_secrets, clock), make_customer(db, node_secrets, clock)
    earn(db, settings, clock, ann, 1_000)
    redeem(db, clock, ann, 10)  # Ann's lot is empty
    earn(db, settings, clock, bo, 1_000)
    clock.set(start + 366 * DAY)  # Bo's lot expired a day ago; the job has not run
    assert warn_expiring_points(db, settings, now=clock.now()) == WarningReport(0, 0, 0)


def test_warn_days_zero_turns_warnings_off(
    db: Database, settings: Settings, clock: ManualClock, node_secrets: NodeSecrets
) -> None:
    use_program(db, settings, clock, warn_days=0)
    ann = make_customer(db, node_secrets, clock)
    earn(db, settings, clock, ann, 1_000)
    clock.advance(364 * DAY)
    assert warn_expiring_points(db, settings, now=clock.now()) == WarningReport(0, 0, 0)


def test_the_program_in_force_sets_the_window(
    db: Database, settings: Settings, clock: ManualClock, node_secrets: NodeSecrets
) -> None:
    start = clock.now()
    ann = make_customer(db, node_secrets, clock)
    earn(db, settings, clock, ann, 1_000)
    clock.set(start + 300 * DAY)
    use_program(db, settings, clock, warn_days=70)  # in force from day 300
    assert warn_expiring_points(db, settings, now=start + 299 * DAY).lots == 0  # version 0: 30 days
    assert warn_expiring_points(db, settings, now=clock.now()).lots == 1


def test_concurrent_runs_announce_each_lot_once(
    database_url: str,
    db: Database,
    settings: Settings,
    clock: ManualClock,
    node_secrets: NodeSecrets,
    receiver: Receiver,
    hook: str,
) -> None:
    use_program(db, settings, clock, warn_days=30)
    members = [make_customer(db, node_secrets, clock) for _ in range(12)]
    for member in members:
        earn(db, settings, clock, member, 1_000)
    clock.advance(350 * DAY)
    barrier = threading.Barrier(3)
    reports: list[WarningReport] = []

    def run() -> None:
        own = Database(database_url)
        try:
            barrier.wait()
            reports.append(warn_expiring_points(own, settings, now=clock.now(), batch_size=4))
        finally:
            own.dispose()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sum(report.lots for report in reports) == 12
    assert sorted(d["customer_id"] for d in announced(db, node_secrets, clock, receiver)) == sorted(
        members
    )
