"""Random purchases, offer uses, consent withdrawals and grants and job runs, each
sent twice (a till retrying), never break the ledger; every offer's reward is
granted once; a withdrawn member has no pending offer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from node.clock import ManualClock
from node.db import Database
from node.errors import KonsortError
from node.program.config import parse_program
from node.program.earning import Line
from node.secrets import NodeSecrets
from node.services import consent, offers, points, program
from node.services.idempotency import run_idempotent
from node.services.verification import verify_ledger
from node.settings import Settings
from tests.factories import make_customer

START = datetime(2026, 1, 5, tzinfo=UTC)

PROGRAM: dict[str, Any] = {
    "offers": [
        {
            "code": "spender",
            "name": "Spender",
            "condition": {"kind": "spend_above", "amount": 2_000, "within_days": 30},
            "reward": {"bonus_points": 25},
            "validity_days": 3,
            "limit": 2,
            "limit_period": "week",
        },
        {
            "code": "coffee",
            "name": "Coffee lover",
            "condition": {
                "kind": "category_count",
                "category": "coffee",
                "times": 2,
                "within_days": 10,
            },
            "reward": {"bonus_points": 10},
            "limit_period": "day",
        },
        {
            "code": "lapsed",
            "name": "Come back",
            "condition": {"kind": "lapsed", "days": 2},
            "reward": {"bonus_points": 5},
            "limit_period": "ever",
        },
    ],
    "challenges": [
        {
            "code": "visits",
            "name": "Visits",
            "starts_at": START.isoformat(),
            "ends_at": (START + timedelta(days=3650)).isoformat(),
            "goal": "visits",
            "target": 3,
            "reward_points": 50,
        }
    ],
}

OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(["buy", "use", "withdraw", "withdraw_profiling", "grant", "job"]),
        st.integers(min_value=0, max_value=3),  # which Idempotency-Key
        st.integers(min_value=0, max_value=24 * 4),  # hours before the operation
        st.integers(min_value=1_000, max_value=9_000),  # an amount
    ),
    min_size=1,
    max_size=20,
)


def _count(db: Database, sql: str, **params: Any) -> int:
    with db.read() as session:
        return int(session.execute(text(sql), params).scalar() or 0)


def _consent(customer: str, purpose: str, granted: bool, key: str, now: datetime) -> Any:
    return consent.consent_unit(
        customer_id=customer,
        purpose=purpose,
        granted=granted,
        channel="operator_api",
        actor="test",
        idempotency_key=key,
        now=now,
    )


def _units(
    name: str, settings: Settings, db: Database, customer: str, key: str, now: datetime, amount: int
) -> list[Any]:
    if name == "buy":
        category = ["coffee", "cake"][amount % 2]
        return [
            points.purchase_unit(
                settings,
                customer_id=customer,
                amount=amount,
                currency=settings.currency,
                order_ref=None,
                idempotency_key=key,
                now=now,
                lines=[Line(amount, category)],
            )
        ]
    if name == "use":
        found = offers.customer_offers(db, settings, customer_id=customer, now=now)
        if not found:
            return []
        offer = found[amount % len(found)]
        return [
            offers.use_offer_unit(
                settings,
                customer_id=customer,
                offer_id=offer["id"],
                reference=None,
                idempotency_key=key,
                now=now,
            )
        ]
    if name == "grant":
        return [
            _consent(customer, purpose, True, f"{key}-{purpose}", now)
            for purpose in (consent.PERSONALISED_OFFERS, consent.PROFILING)
        ]
    purpose = consent.PROFILING if name == "withdraw_profiling" else consent.PERSONALISED_OFFERS
    return [_consent(customer, purpose, False, key, now)]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=OPERATIONS)
def test_retried_requests_never_break_the_ledger_or_grant_an_offer_twice(
    operations: list[tuple[str, int, int, int]],
    db: Database,
    settings: Settings,
    node_secrets: NodeSecrets,
) -> None:
    clock = ManualClock(START)
    if _count(db, "SELECT COUNT(*) FROM program_version") == 0:
        program.update_program(
            db,
            settings,
            program=parse_program(PROGRAM),
            actor="test",
            comment=None,
            now=START - timedelta(days=1),
        )
    customer = make_customer(db, node_secrets, clock)
    tag = customer[-8:]
    for unit in _units("grant", settings, db, customer, f"{tag}-start", clock.now(), 0):
        run_idempotent(db, unit)
    for step, (name, key, hours, amount) in enumerate(operations):
        clock.advance(timedelta(hours=hours))
        now = clock.now()
        if name == "job":
            offers.issue_scheduled_offers(db, settings, node_secrets, now=now)
            offers.issue_scheduled_offers(db, settings, node_secrets, now=now)
        else:
            idempotency_key = f"{tag}-{name}-{key}-{step if name != 'use' else key}"
            for unit in _units(name, settings, db, customer, idempotency_key, now, amount):
                for _ in range(2):  # the till retries every request once
                    try:
                        run_idempotent(db, unit)
                    except KonsortError:
                        pass  # refused (used, expired, key reused): nothing written
        report = verify_ledger(db)
        assert report.ok, report.violations
        if name.startswith("withdraw"):
            pending = _count(
                db,
                "SELECT COUNT(*) FROM customer_offer WHERE customer_id = :c AND status = 'pending'",
                c=customer,
            )
            assert pending == 0

    by = {"c": customer}
    granted = _count(
        db,
        "SELECT COUNT(*) FROM ledger_transaction WHERE customer_id = :c AND kind = 'offer'",
        **by,
    )
    used = _count(
        db, "SELECT COUNT(*) FROM customer_offer WHERE customer_id = :c AND status = 'used'", **by
    )
    assert granted == used
    granted_points = _count(
        db,
        "SELECT SUM(points) FROM ledger_transaction WHERE customer_id = :c AND kind = 'offer'",
        **by,
    )
    used_points = _count(
        db,
        "SELECT SUM(bonus_points) FROM customer_offer WHERE customer_id = :c AND status = 'used'",
        **by,
    )
    assert granted_points == used_points
    linked = _count(
        db,
        "SELECT COUNT(DISTINCT transaction_id) FROM customer_offer WHERE customer_id = :c"
        " AND status = 'used'",
        **by,
    )
    assert linked == used
