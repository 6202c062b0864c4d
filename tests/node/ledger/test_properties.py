"""Random sequences of enrol, earn, redeem, expiry and retries keep every invariant.

A hypothesis state machine drives the real services against a real database
and keeps a simple model of what each balance must be. After every step,
`verify_ledger` must pass and every balance must match the model.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
)
from sqlalchemy.engine import make_url

from node.clock import ManualClock
from node.db import Database
from node.errors import IdempotencyConflict, InsufficientPoints
from node.secrets import NodeSecrets
from node.services import ledger
from node.services.verification import verify_ledger
from node.settings import load_settings
from node.store import ledger as ledger_store
from tests.conftest import PostgresDatabases, fresh_database_url
from tests.factories import earn, make_customer, redeem

EXPIRY_DAYS = 30


def run_machine(backend: str, templates: dict[str, str], postgres: Any, tmp: Path) -> None:
    class LedgerMachine(RuleBasedStateMachine):
        customers = Bundle("customers")

        @initialize()
        def start(self) -> None:
            directory = tmp / f"run-{uuid.uuid4().hex}"
            directory.mkdir()
            self.url = fresh_database_url(backend, templates, postgres, directory)
            self.db = Database(self.url)
            self.clock = ManualClock()
            self.secrets = NodeSecrets.generate()
            self.settings = load_settings(
                environ={},
                data_dir=directory,
                database_url=self.url,
                point_expiry_days=EXPIRY_DAYS,
            )
            # customer -> list of [points remaining, expires_at] lots, oldest first
            self.lots: dict[str, list[list[Any]]] = {}
            self.sent: dict[str, tuple[str, str, int]] = {}  # key -> (op, customer, amount)

        def teardown(self) -> None:
            self.db.dispose()
            if backend == "postgresql":
                assert isinstance(postgres, PostgresDatabases)
                postgres.drop(make_url(self.url).database or "")

        def expected(self, customer: str) -> int:
            now = self.clock.now()
            return sum(points for points, expires in self.lots[customer] if expires > now)

        def _drop_expired(self, customer: str) -> None:
            now = self.clock.now()
            self.lots[customer] = [lot for lot in self.lots[customer] if lot[1] > now]

        @rule(target=customers)
        def enrol(self) -> str:
            customer = make_customer(self.db, self.secrets, self.clock)
            self.lots[customer] = []
            return customer

        @rule(
            customer=customers,
            amount=st.integers(min_value=1, max_value=50_000),
            key=st.integers(min_value=0, max_value=30),
        )
        def earn_points(self, customer: str, amount: int, key: int) -> None:
            name = f"earn-{key}"
            previous = self.sent.get(name)
            if previous is not None and previous != ("earn", customer, amount):
                with pytest.raises(IdempotencyConflict):
                    earn(self.db, self.settings, self.clock, customer, amount, key=name)
                return
            earn(self.db, self.settings, self.clock, customer, amount, key=name)
            if previous is None:  # a retry changes nothing
                self.sent[name] = ("earn", customer, amount)
                self._drop_expired(customer)
                self.lots[customer].append(
                    [amount // 100, self.clock.now() + timedelta(days=EXPIRY_DAYS)]
                )

        @rule(
            customer=customers,
            points=st.integers(min_value=1, max_value=600),
            key=st.integers(min_value=0, max_value=30),
        )
        def redeem_points(self, customer: str, points: int, key: int) -> None:
            name = f"redeem-{key}"
            previous = self.sent.get(name)
            if previous is not None and previous != ("redeem", customer, points):
                with pytest.raises(IdempotencyConflict):
                    redeem(self.db, self.clock, customer, points, key=name)
                return
            if previous is not None:
                redeem(self.db, self.clock, customer, points, key=name)  # replay
                return
            if points > self.expected(customer):
                with pytest.raises(InsufficientPoints):
                    redeem(self.db, self.clock, customer, points, key=name)
                return
            redeem(self.db, self.clock, customer, points, key=name)
            self.sent[name] = ("redeem", customer, points)
            self._drop_expired(customer)
            left = points
            for lot in self.lots[customer]:  # first in, first out
                take = min(left, lot[0])
                lot[0] -= take
                left -= take

        @rule(days=st.integers(min_value=1, max_value=20))
        def time_passes(self, days: int) -> None:
            self.clock.advance(timedelta(days=days))

        @rule()
        def expiry_run(self) -> None:
            ledger.expire_due_points(self.db, now=self.clock.now())
            ledger.expire_due_points(self.db, now=self.clock.now())  # twice: idempotent

        @invariant()
        def ledger_holds(self) -> None:
            if not hasattr(self, "db"):
                return
            report = verify_ledger(self.db)
            assert report.ok, report.violations
            now = self.clock.now()
            for customer in self.lots:
                found = ledger.customer_balance(self.db, customer_id=customer, now=now)
                assert found.points == self.expected(customer)
                with self.db.read() as session:
                    account = ledger.customer_account_id_txn(session=session, customer_id=customer)
                    lots = ledger_store.open_lots(session=session, account_id=account)
                live = [(lot.remaining, lot.expires_at) for lot in lots if lot.expires_at > now]
                model = [(p, e) for p, e in self.lots[customer] if p > 0 and e > now]
                assert live == model

    LedgerMachine.TestCase.settings = settings(
        max_examples=12 if backend == "sqlite" else 6,
        stateful_step_count=25,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    LedgerMachine.TestCase().runTest()


def test_random_sequences_keep_the_ledger_sound(
    backend: str,
    templates: dict[str, str],
    postgres: PostgresDatabases | None,
    tmp_path: Path,
) -> None:
    run_machine(backend, templates, postgres, tmp_path)
