"""Random purchases, actions, fee payments, cancels, resumes and job runs, each
sent twice (a till retrying), never break the ledger, and every reward a
challenge grants and every membership event is granted once."""

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
from node.services import engagement, memberships, points, program
from node.services.idempotency import run_idempotent
from node.services.verification import verify_ledger
from node.settings import Settings
from tests.factories import make_customer

START = datetime(2026, 1, 5, tzinfo=UTC)
FOREVER = (START + timedelta(days=3650)).isoformat()

PROGRAM: dict[str, Any] = {
    "tiers": {
        "levels": [
            {"code": "member", "name": "Member", "threshold": 0},
            {"code": "gold", "name": "Gold", "threshold": 20_000, "multiplier_percent": 125},
        ]
    },
    "membership": {
        "plans": [
            {
                "code": "club",
                "name": "Club",
                "fee": 1_000,
                "earn_multiplier_percent": 150,
                "grace_days": 2,
                "renewal_notice_days": 3,
                "refund": "pro_rata",
            }
        ]
    },
    "actions": [
        {"code": "review", "name": "Review", "points": 10, "cap": 2, "cap_period": "day"},
    ],
    "challenges": [
        {
            "code": code,
            "name": code,
            "starts_at": START.isoformat(),
            "ends_at": FOREVER,
            "goal": goal,
            "target": target,
            "reward_points": reward,
            **({"action": "review"} if goal == "actions" else {}),
        }
        for code, goal, target, reward in (
            ("visits", "visits", 3, 50),
            ("reviews", "actions", 2, 40),
            ("spend", "spend", 8_000, 70),
            ("categories", "categories", 2, 30),
        )
    ],
}

OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(["buy", "act", "pay", "cancel", "cancel_now", "resume", "advance"]),
        st.integers(min_value=0, max_value=3),  # which Idempotency-Key
        st.integers(min_value=0, max_value=24 * 20),  # hours before the operation
        st.integers(min_value=1_000, max_value=9_000),  # an amount
    ),
    min_size=1,
    max_size=20,
)


def _unit(
    name: str, settings: Settings, customer: str, key: str, now: datetime, amount: int
) -> Any:
    if name == "buy":
        category = ["coffee", "cake", "books"][amount % 3]
        return points.purchase_unit(
            settings,
            customer_id=customer,
            amount=amount,
            currency=settings.currency,
            order_ref=None,
            idempotency_key=key,
            now=now,
            lines=[Line(amount, category)],
        )
    if name == "act":
        return engagement.action_unit(
            settings,
            customer_id=customer,
            action_type="review",
            occurred_at=None,
            reference=None,
            idempotency_key=key,
            now=now,
        )
    if name == "pay":
        return memberships.membership_payment_unit(
            settings,
            customer_id=customer,
            plan="club",
            amount=1_000,
            currency=settings.currency,
            reference=None,
            period=None,
            idempotency_key=key,
            now=now,
        )
    if name in ("cancel", "cancel_now"):
        return memberships.cancel_membership_unit(
            settings,
            customer_id=customer,
            at_once=name == "cancel_now",
            idempotency_key=key,
            now=now,
        )
    return memberships.resume_membership_unit(
        settings, customer_id=customer, idempotency_key=key, now=now
    )


def _count(db: Database, sql: str, **params: Any) -> int:
    with db.read() as session:
        return int(session.execute(text(sql), params).scalar_one())


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=OPERATIONS)
def test_retried_requests_never_break_the_ledger_or_pay_twice(
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
    for name, key, hours, amount in operations:
        clock.advance(timedelta(hours=hours))
        now = clock.now()
        if name == "advance":
            memberships.advance_memberships(db, settings, now=now)
            memberships.advance_memberships(db, settings, now=now)
            continue
        idempotency_key = f"{tag}-{name}-{key}"
        for _ in range(2):  # the till retries every request once
            try:
                run_idempotent(db, _unit(name, settings, customer, idempotency_key, now, amount))
            except KonsortError:
                pass  # refused (cap, not active, key reused for another request): nothing written
        report = verify_ledger(db)
        assert report.ok, report.violations

    by = {"c": customer}
    # Each challenge paid at most once, and exactly when its progress row says so.
    rewards = _count(
        db,
        "SELECT COUNT(*) FROM ledger_transaction WHERE customer_id = :c AND kind = 'bonus'"
        " AND reference LIKE 'challenge:%'",
        **by,
    )
    distinct = _count(
        db,
        "SELECT COUNT(DISTINCT reference) FROM ledger_transaction WHERE customer_id = :c"
        " AND kind = 'bonus' AND reference LIKE 'challenge:%'",
        **by,
    )
    completed = _count(
        db,
        "SELECT COUNT(*) FROM challenge_progress WHERE customer_id = :c"
        " AND completed_at IS NOT NULL",
        **by,
    )
    assert rewards == distinct == completed
    # At most two reviews a day, and one action row per action transaction.
    worst = _count(
        db,
        "SELECT COALESCE(MAX(n), 0) FROM (SELECT COUNT(*) AS n FROM customer_action"
        " WHERE customer_id = :c GROUP BY period_key) AS days",
        **by,
    )
    assert worst <= 2
    assert _count(
        db, "SELECT COUNT(*) FROM customer_action WHERE customer_id = :c", **by
    ) == _count(
        db,
        "SELECT COUNT(*) FROM ledger_transaction WHERE customer_id = :c AND kind = 'action'",
        **by,
    )
    # One event per start and per lapse written down in the history.
    for change, event in (("started", "membership.started"), ("lapsed", "membership.lapsed")):
        changes = _count(
            db,
            "SELECT COUNT(*) FROM membership_change WHERE customer_id = :c AND change = :x",
            c=customer,
            x=change,
        )
        events = _count(
            db,
            "SELECT COUNT(*) FROM webhook_event WHERE type = :t AND payload LIKE :p",
            t=event,
            p=f'%"{customer}"%',
        )
        assert changes == events
    # Fee revenue is whole fees less refunds, never more than was paid.
    paid = _count(
        db,
        "SELECT COALESCE(SUM(amount), 0) FROM membership_payment WHERE customer_id = :c"
        " AND amount > 0",
        **by,
    )
    assert paid % 1_000 == 0
    assert (
        0
        <= _count(
            db,
            "SELECT COALESCE(SUM(amount), 0) FROM membership_payment WHERE customer_id = :c",
            **by,
        )
        <= paid
    )
