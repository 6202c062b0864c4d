"""The ledger's rules, through the service layer, on every backend."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from node.clock import ManualClock
from node.db import Database
from node.errors import IdempotencyConflict, InsufficientPoints, NotFound
from node.secrets import NodeSecrets
from node.services import ledger
from node.services.verification import verify_ledger
from node.settings import Settings
from tests.factories import earn, make_customer, redeem


@pytest.fixture
def customer(db: Database, node_secrets: NodeSecrets, clock: ManualClock) -> str:
    return make_customer(db, node_secrets, clock)


def balance(db: Database, clock: ManualClock, customer_id: str) -> int:
    return ledger.customer_balance(db, customer_id=customer_id, now=clock.now()).points


def test_earn_credits_whole_points_rounded_down(
    db: Database, settings: Settings, clock: ManualClock, customer: str
) -> None:
    body = earn(db, settings, clock, customer, 12_399)  # 123.99 DKK at 1 point per krone
    assert body["transaction"]["points"] == 123
    assert body["balance"] == 123
    assert balance(db, clock, customer) == 123
    assert verify_ledger(db).ok


def test_redeem_takes_points_and_never_goes_negative(
    db: Database, settings: Settings, clock: ManualClock, customer: str
) -> None:
    earn(db, settings, clock, customer, 10_000)
    assert redeem(db, clock, customer, 60)["balance"] == 40
    with pytest.raises(InsufficientPoints):
        redeem(db, clock, customer, 41)
    assert balance(db, clock, customer) == 40
    report = verify_ledger(db)
    assert report.ok, report.violations
    assert report.totals == {
        "customer": 40,
        "program:issued": -100,
        "program:redeemed": 60,
        "program:expired": 0,
    }


def test_refused_redemption_writes_nothing(
    db: Database, settings: Settings, clock: ManualClock, customer: str
) -> None:
    earn(db, settings, clock, customer, 1_000)
    with db.read() as session:
        before = session.execute(text("SELECT COUNT(*) FROM ledger_transaction")).scalar_one()
    with pytest.raises(InsufficientPoints):
        redeem(db, clock, customer, 11, key="too-much")
    with db.read() as session:
        after = session.execute(text("SELECT COUNT(*) FROM ledger_transaction")).scalar_one()
        stored = session.execute(text("SELECT COUNT(*) FROM idempotency_record")).scalar_one()
    assert after == before
    assert stored == 2  # the enrolment and the earn; the refusal left its key free
    assert redeem(db, clock, customer, 10, key="too-much")["balance"] == 0


def test_same_key_replays_the_first_answer(
    db: Database, settings: Settings, clock: ManualClock, customer: str
) -> None:
    first = earn(db, settings, clock, customer, 5_000, key="till-1-order-9")
    again = earn(db, settings, clock, customer, 5_000, key="till-1-order-9")
    assert again == first
    assert balance(db, clock, customer) == 50
    with pytest.raises(IdempotencyConflict):
        earn(db, settings, clock, customer, 6_000, key="till-1-order-9")
    with pytest.raises(IdempotencyConflict):  # same key, other operation
        redeem(db, clock, customer, 5, key="till-1-order-9")
    assert balance(db, clock, customer) == 50


def test_unknown_customer_is_not_found(
    db: Database, settings: Settings, clock: ManualClock
) -> None:
    with pytest.raises(NotFound):
        earn(db, settings, clock, "cus_missing", 100)
    with pytest.raises(NotFound):
        redeem(db, clock, "cus_missing", 1)


def test_lots_are_spent_first_in_first_out(
    db: Database, settings: Settings, clock: ManualClock, customer: str
) -> None:
    earn(db, settings, clock, customer, 10_000)  # lot A: 100, expires day 365
    clock.advance(timedelta(days=100))
    earn(db, settings, clock, customer, 5_000)  # lot B: 50, expires day 465
    redeem(db, clock, customer, 120)  # all of A, 20 of B
    with db.read() as session:
        lots = session.execute(text("SELECT amount, remaining FROM point_lot ORDER BY id")).all()
    assert [tuple(lot) for lot in lots] == [(100, 0), (50, 30)]
    clock.advance(timedelta(days=300))  # A would have expired now; it is already spent
    assert ledger.expire_due_points(db, now=clock.now()).points == 0
    assert balance(db, clock, customer) == 30


def test_expiry_takes_what_is_left_of_old_lots_once(
    db: Database, settings: Settings, clock: ManualClock, customer: str
) -> None:
    earn(db, settings, clock, customer, 10_000)  # 100 points, expire in 365 days
    redeem(db, clock, customer, 30)
    clock.advance(timedelta(days=200))
    earn(db, settings, clock, customer, 2_000)  # 20 points, expire day 565
    clock.advance(timedelta(days=166))  # day 366: the first lot is past expiry
    assert balance(db, clock, customer) == 20  # counted as gone before the job runs
    report = ledger.expire_due_points(db, now=clock.now())
    assert (report.customers, report.points) == (1, 70)
    assert ledger.expire_due_points(db, now=clock.now()).points == 0  # idempotent
    assert balance(db, clock, customer) == 20
    assert verify_ledger(db).totals["program:expired"] == 70
    assert verify_ledger(db).ok


def test_a_write_expires_due_lots_before_spending(
    db: Database, settings: Settings, clock: ManualClock, customer: str
) -> None:
    earn(db, settings, clock, customer, 10_000)
    clock.advance(timedelta(days=365))
    with pytest.raises(InsufficientPoints):
        redeem(db, clock, customer, 1)
    earn(db, settings, clock, customer, 500)
    with db.read() as session:
        kinds = session.execute(text("SELECT kind FROM ledger_transaction ORDER BY id")).scalars()
        assert list(kinds) == ["earn", "expire", "earn"]
    assert balance(db, clock, customer) == 5


def test_balance_reports_the_next_expiry(
    db: Database, settings: Settings, clock: ManualClock, customer: str
) -> None:
    start = clock.now()
    earn(db, settings, clock, customer, 10_000)
    clock.advance(timedelta(days=1))
    earn(db, settings, clock, customer, 4_000)
    found = ledger.customer_balance(db, customer_id=customer, now=clock.now())
    assert (found.points, found.expiring_points) == (140, 100)
    assert found.next_expiry == start + timedelta(days=365)


def test_points_without_expiry_never_expire(
    db: Database, settings: Settings, clock: ManualClock, customer: str
) -> None:
    forever = settings.model_copy(update={"point_expiry_days": 0})
    earn(db, forever, clock, customer, 10_000)
    clock.advance(timedelta(days=3650))
    assert ledger.expire_due_points(db, now=clock.now()).points == 0
    assert balance(db, clock, customer) == 100


def test_ledger_rows_are_append_only(
    db: Database, settings: Settings, clock: ManualClock, customer: str
) -> None:
    earn(db, settings, clock, customer, 10_000)
    for statement in (
        "UPDATE ledger_entry SET amount = amount + 1",
        "DELETE FROM ledger_entry",
        "UPDATE ledger_transaction SET points = 0",
        "DELETE FROM ledger_transaction",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            with db.transaction() as session:
                session.execute(text(statement))
    assert verify_ledger(db).ok


def test_customer_balance_cannot_go_negative_even_by_sql(
    db: Database, settings: Settings, clock: ManualClock, customer: str
) -> None:
    with pytest.raises(DBAPIError):
        with db.transaction() as session:
            session.execute(text("UPDATE account SET balance = -1 WHERE kind = 'customer'"))


def test_verify_reports_a_tampered_balance(
    db: Database, settings: Settings, clock: ManualClock, customer: str
) -> None:
    earn(db, settings, clock, customer, 10_000)
    with db.transaction() as session:
        session.execute(text("UPDATE account SET balance = balance + 5 WHERE kind = 'customer'"))
    report = verify_ledger(db)
    assert not report.ok
    assert any("balance 105 but entries sum to 100" in line for line in report.violations)
    assert any("balance 105 but lots hold 100" in line for line in report.violations)


def test_verify_reports_a_tampered_lot(
    db: Database, settings: Settings, clock: ManualClock, customer: str
) -> None:
    earn(db, settings, clock, customer, 10_000)
    with db.transaction() as session:
        session.execute(text("UPDATE point_lot SET remaining = remaining - 1"))
    violations = verify_ledger(db).violations
    assert any(line.startswith("lot ") for line in violations)


def test_unbalanced_postings_are_refused_before_writing(
    db: Database, clock: ManualClock, customer: str
) -> None:
    with pytest.raises(Exception, match="does not balance"):
        with db.transaction() as session:
            account = ledger.customer_account_id_txn(session=session, customer_id=customer)
            ledger.post_transaction_txn(
                session=session,
                kind="adjust",
                customer_id=customer,
                points=5,
                postings=[ledger.Posting(account, 5, guarded=True)],
                idempotency_key=None,
                reference=None,
                now=clock.now(),
            )
    assert verify_ledger(db).totals.get("customer", 0) == 0
