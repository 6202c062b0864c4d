"""Retention with an injected clock: each category removes exactly what it names."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from node.clock import ManualClock
from node.db import Database
from node.errors import ValidationFailed
from node.secrets import NodeSecrets
from node.services import points, retention
from node.services.erasure import shred_personal_data_txn
from node.services.federation import unix
from node.services.verification import verify_ledger
from node.settings import Settings
from node.store import federation as federation_store
from node.store import settlement as settlement_store
from tests.factories import make_customer

T2020 = datetime(2020, 3, 1, tzinfo=UTC)
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def earn(db: Database, settings: Settings, clock: ManualClock, customer_id: str) -> None:
    points.record_purchase(
        db,
        settings,
        customer_id=customer_id,
        amount=10_000,
        currency=settings.currency,
        order_ref=f"order-{uuid.uuid4().hex[:8]}",
        idempotency_key=f"earn-{uuid.uuid4()}",
        now=clock.now(),
    )


def erase(db: Database, customer_id: str, now: datetime) -> None:
    with db.transaction() as session:
        shred_personal_data_txn(session=session, customer_id=customer_id, now=now)


def add_details(db: Database, customer_id: str, now: datetime) -> None:
    """Details the till and program leave behind: a purchase line, tier history, a bonus."""
    with db.transaction() as session:
        purchase = session.execute(
            text("SELECT id FROM purchase WHERE customer_id = :c"), {"c": customer_id}
        ).scalar_one()
        session.execute(
            text(
                "INSERT INTO purchase_line (purchase_id, category, amount, product)"
                " VALUES (:p, 'books', 1, 'BOOK-1')"
            ),
            {"p": purchase},
        )
        session.execute(
            text(
                "INSERT INTO tier_change (customer_id, to_tier, reason, qualifying_value,"
                " program_version, created_at) VALUES (:c, 'gold', 'review', 1, 0, :t)"
            ),
            {"c": customer_id, "t": now.replace(tzinfo=None)},
        )
        session.execute(
            text(
                "INSERT INTO bonus_award (customer_id, kind, period, points, created_at)"
                " VALUES (:c, 'enrolment', '', 10, :t)"
            ),
            {"c": customer_id, "t": now.replace(tzinfo=None)},
        )


def details(db: Database, customer_id: str) -> dict[str, int]:
    queries = {
        "order_refs": "SELECT count(*) FROM purchase WHERE customer_id = :c"
        " AND order_ref IS NOT NULL",
        "lines": "SELECT count(*) FROM purchase_line l JOIN purchase p ON p.id = l.purchase_id"
        " WHERE p.customer_id = :c",
        "tier_changes": "SELECT count(*) FROM tier_change WHERE customer_id = :c",
        "bonuses": "SELECT count(*) FROM bonus_award WHERE customer_id = :c",
        "purchases": "SELECT count(*) FROM purchase WHERE customer_id = :c",
    }
    with db.read() as session:
        return {
            k: int(session.execute(text(q), {"c": customer_id}).scalar_one())
            for k, q in queries.items()
        }


def status(db: Database, customer_id: str) -> str:
    with db.read() as session:
        return str(
            session.execute(
                text("SELECT status FROM customer WHERE id = :c"), {"c": customer_id}
            ).scalar_one()
        )


def has_profile(db: Database, customer_id: str) -> bool:
    with db.read() as session:
        found = session.execute(
            text("SELECT count(*) FROM customer_profile WHERE customer_id = :c"), {"c": customer_id}
        ).scalar_one()
    return bool(found)


@dataclass
class World:
    recent: str  # active, earned last year
    idle: str  # active, nothing since 2020
    new: str  # enrolled last month, never earned
    erased_old: str  # erased, last transaction in 2020: past the bookkeeping period
    erased_recent: str  # erased, last transaction in 2022: still within it


@pytest.fixture
def world(db: Database, settings: Settings, clock: ManualClock, node_secrets: NodeSecrets) -> World:
    clock.set(T2020)
    recent, idle, erased_old, erased_recent = (
        make_customer(db, node_secrets, clock, email=f"m{i}@example.com") for i in range(4)
    )
    for customer in (recent, idle, erased_old, erased_recent):
        earn(db, settings, clock, customer)
    add_details(db, erased_old, clock.now())
    add_details(db, erased_recent, clock.now())
    erase(db, erased_old, clock.now())
    clock.set(datetime(2022, 6, 1, tzinfo=UTC))
    earn(db, settings, clock, erased_recent)
    erase(db, erased_recent, clock.now())
    clock.set(datetime(2025, 5, 1, tzinfo=UTC))
    earn(db, settings, clock, recent)
    clock.set(NOW - timedelta(days=30))
    new = make_customer(db, node_secrets, clock, email="new@example.com")
    clock.set(NOW)
    return World(recent, idle, new, erased_old, erased_recent)


def run(
    db: Database,
    settings: Settings,
    clock: ManualClock,
    *,
    dry_run: bool = False,
    only: list[str] | None = None,
) -> dict:  # type: ignore[type-arg]
    found = retention.run_retention(
        db, settings, clock=clock, dry_run=dry_run, trigger="cli", actor="test", only=only
    )
    return {c["category"]: c for c in retention.run_json(found)["categories"]}


def test_inactive_customers_lose_their_personal_data_and_nobody_else(
    db: Database, settings: Settings, clock: ManualClock, world: World
) -> None:
    totals = verify_ledger(db).totals
    results = run(db, settings, clock, only=["inactive_customers"])
    assert results["inactive_customers"]["applied"] == 1
    assert status(db, world.idle) == "erased" and not has_profile(db, world.idle)
    for kept in (world.recent, world.new):
        assert status(db, kept) == "active" and has_profile(db, kept)
    assert verify_ledger(db).totals == totals
    assert verify_ledger(db).ok


def test_details_of_erased_members_go_after_the_bookkeeping_period_only(
    db: Database, settings: Settings, clock: ManualClock, world: World
) -> None:
    totals = verify_ledger(db).totals
    before_recent = details(db, world.erased_recent)
    results = run(db, settings, clock, only=["bookkeeping_details"])
    assert results["bookkeeping_details"]["applied"] == 1
    assert details(db, world.erased_old) == {
        "order_refs": 0,
        "lines": 0,
        "tier_changes": 1,  # append-only, like the ledger: tier names under the opaque id
        "bonuses": 0,
        "purchases": 1,  # the amounts stay for the books
    }
    assert details(db, world.erased_recent) == before_recent
    assert before_recent["order_refs"] == 2 and before_recent["lines"] == 1
    assert details(db, world.recent)["order_refs"] == 2
    assert verify_ledger(db).totals == totals


def test_the_bookkeeping_period_ends_with_the_financial_year(
    db: Database, settings: Settings, clock: ManualClock, world: World
) -> None:
    # Last transaction 2022-06-01: the year ends 2022-12-31, five years later is 2027-12-31.
    clock.set(datetime(2027, 12, 31, 23, 59, tzinfo=UTC))
    assert (
        run(db, settings, clock, only=["bookkeeping_details"])["bookkeeping_details"]["applied"]
        == 1
    )  # only erased_old
    assert details(db, world.erased_recent)["order_refs"] == 2
    clock.set(datetime(2028, 1, 1, tzinfo=UTC))
    assert (
        run(db, settings, clock, only=["bookkeeping_details"])["bookkeeping_details"]["applied"]
        == 1
    )
    assert details(db, world.erased_recent)["order_refs"] == 0


def test_a_dry_run_lists_what_would_go_and_changes_nothing(
    db: Database, settings: Settings, clock: ManualClock, world: World
) -> None:
    results = run(db, settings, clock, dry_run=True)
    assert results["inactive_customers"]["due"] == 1
    assert results["inactive_customers"]["sample"] == [world.idle]
    assert results["bookkeeping_details"]["sample"] == [world.erased_old]
    assert results["withdrawn_consent"]["due"] == 0  # nobody withdrew anything
    assert all(r["applied"] == 0 for r in results.values())
    assert status(db, world.idle) == "active" and has_profile(db, world.idle)
    assert details(db, world.erased_old)["order_refs"] == 1
    # The real run then does what the dry run said.
    real = run(db, settings, clock)
    assert real["inactive_customers"]["applied"] == 1
    # The member erased for inactivity last transacted in 2020: past the bookkeeping
    # period too, so the same run anonymises their details.
    assert real["bookkeeping_details"]["applied"] == 2
    assert details(db, world.idle)["order_refs"] == 0
    assert details(db, world.erased_recent)["order_refs"] == 2


def test_a_repeated_run_changes_nothing(
    db: Database, settings: Settings, clock: ManualClock, world: World
) -> None:
    first = run(db, settings, clock)
    assert first["inactive_customers"]["applied"] == 1
    again = run(db, settings, clock)
    assert {name: r["applied"] for name, r in again.items()} == {name: 0 for name in again}


def test_runs_go_in_batches(
    db: Database, settings: Settings, clock: ManualClock, node_secrets: NodeSecrets
) -> None:
    clock.set(T2020)
    idle = [make_customer(db, node_secrets, clock) for _ in range(7)]
    clock.set(NOW)
    small = settings.model_copy(update={"retention_batch_size": 3})
    seen: list[tuple[int | None, str]] = []
    advanced: list[int] = []

    class Bar:
        def advance(self, amount: int = 1) -> None:
            advanced.append(amount)

    from contextlib import contextmanager

    @contextmanager
    def bars(total: int | None, desc: str, unit: str):  # type: ignore[no-untyped-def]
        seen.append((total, unit))
        yield Bar()

    report = retention.run_retention(
        db,
        small,
        clock=clock,
        dry_run=False,
        trigger="cli",
        actor="test",
        only=["inactive_customers"],
        progress=bars,
    )
    assert retention.run_json(report)["categories"][0]["applied"] == 7
    assert seen == [(7, "customers")]
    assert advanced == [3, 3, 1]
    assert all(status(db, c) == "erased" for c in idle)


def test_zero_keeps_the_data(
    db: Database, settings: Settings, clock: ManualClock, world: World
) -> None:
    keep = settings.model_copy(update={"retention_inactive_customer_days": 0})
    results = run(db, keep, clock)
    assert results["inactive_customers"]["state"] == "kept"
    assert status(db, world.idle) == "active"


def test_an_unknown_category_is_refused_before_anything_is_recorded(
    db: Database, settings: Settings, clock: ManualClock
) -> None:
    with pytest.raises(ValidationFailed):
        run(db, settings, clock, only=["everything"])
    assert retention.list_runs(db) == []


def test_each_run_is_recorded(
    db: Database, settings: Settings, clock: ManualClock, world: World
) -> None:
    run(db, settings, clock, dry_run=True)
    clock.advance(timedelta(minutes=5))
    run(db, settings, clock)
    runs = [retention.run_json(r) for r in retention.list_runs(db)]
    assert [r["dry_run"] for r in runs] == [False, True]
    assert runs[0]["trigger"] == "cli" and runs[0]["actor"] == "test"
    assert runs[0]["finished_at"] is not None and runs[0]["error"] is None
    applied = {c["category"]: c["applied"] for c in runs[0]["categories"]}
    assert applied["inactive_customers"] == 1


# -- federation messages --------------------------------------------------------------


def _inbox(db: Database, issuer: str, message_id: str, received: datetime) -> None:
    with db.transaction() as session:
        federation_store.insert_inbox(
            session=session,
            issuer=issuer,
            message_id=message_id,
            message_type="transfer.request",
            request_iat=unix(received),
            outcome="accepted",
            reason=None,
            answer_body="{}",
            answer_token="t",
            answer_expires_at=unix(received) + 86_400,
            now=received,
        )


def _outbox(
    db: Database, destination: str, message_id: str, created: datetime, *, answered: bool
) -> None:
    with db.transaction() as session:
        federation_store.insert_outbox(
            session=session,
            message_id=message_id,
            destination=destination,
            message_type="transfer.request",
            token="t",
            now=created,
            expires_at=created + timedelta(days=1),
        )
        if answered:
            federation_store.mark_answered(
                session=session,
                message_id=message_id,
                outcome="accepted",
                reason=None,
                now=created + timedelta(minutes=1),
            )


def _messages(db: Database) -> tuple[set[str], set[str]]:
    with db.read() as session:
        inbox = {r[0] for r in session.execute(text("SELECT message_id FROM inbox_message"))}
        outbox = {r[0] for r in session.execute(text("SELECT message_id FROM outbox_message"))}
    return inbox, outbox


def test_delivered_messages_go_after_the_window_unless_settlement_still_needs_them(
    db: Database, settings: Settings, clock: ManualClock
) -> None:
    clock.set(NOW)
    old = NOW - timedelta(days=200)
    held_period = (datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 4, 1, tzinfo=UTC))
    held_at = datetime(2025, 3, 10, tzinfo=UTC)
    agreed_period = (datetime(2025, 2, 1, tzinfo=UTC), datetime(2025, 3, 1, tzinfo=UTC))
    agreed_at = datetime(2025, 2, 10, tzinfo=UTC)
    with db.transaction() as session:
        settlement_store.insert_period(
            session=session,
            public_id="stl_open",
            peer="bookshop",
            start=unix(held_period[0]),
            end=unix(held_period[1]),
            status="disputed",
            now=NOW,
        )
        settlement_store.insert_period(
            session=session,
            public_id="stl_agreed",
            peer="bookshop",
            start=unix(agreed_period[0]),
            end=unix(agreed_period[1]),
            status="agreed",
            now=NOW,
        )
    _inbox(db, "bookshop", "in-old", old)
    _inbox(db, "bookshop", "in-recent", NOW - timedelta(days=10))
    _inbox(db, "bookshop", "in-held", held_at)
    _inbox(db, "charity", "in-other-peer", held_at)  # same time, a peer without a period
    _inbox(db, "bookshop", "in-agreed", agreed_at)
    _outbox(db, "bookshop", "out-old", old, answered=True)
    _outbox(db, "bookshop", "out-old-pending", old, answered=False)
    _outbox(db, "bookshop", "out-recent", NOW - timedelta(days=10), answered=True)
    _outbox(db, "bookshop", "out-held", held_at, answered=True)

    dry = run(db, settings, clock, dry_run=True, only=["federation_messages"])
    assert dry["federation_messages"]["due"] == 4
    assert _messages(db)[0] >= {"in-old", "in-agreed"}

    results = run(db, settings, clock, only=["federation_messages"])
    assert results["federation_messages"]["applied"] == 4
    inbox, outbox = _messages(db)
    assert inbox == {"in-recent", "in-held"}
    assert outbox == {"out-old-pending", "out-recent", "out-held"}
    assert (
        run(db, settings, clock, only=["federation_messages"])["federation_messages"]["applied"]
        == 0
    )


def test_the_message_window_cannot_be_shorter_than_a_message_lives(settings: Settings) -> None:
    from node.errors import ConfigurationError
    from node.settings import load_settings

    with pytest.raises(ConfigurationError, match="retention_federation_message_days"):
        load_settings(environ={}, retention_federation_message_days=3)
    assert load_settings(environ={}, retention_federation_message_days=0)
