"""Random purchases, refunds, redemptions, expiry and tier reviews under a full
program (four tiers, ten campaigns, categories, cashback) keep every invariant.

After every step `verify_ledger` passes (balanced, per-unit totals zero, no
negative balance, no positive debt, lots in step) and each purchase has taken
back exactly ``floor(points x refunded / amount)``. The final rule refunds
everything that is left, after which every member's earned points net to zero
and no spend counts towards a tier.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule
from sqlalchemy import text
from sqlalchemy.engine import make_url

from node.clock import ManualClock
from node.db import Database
from node.errors import InsufficientPoints
from node.program.config import parse_program
from node.program.earning import Line
from node.secrets import NodeSecrets
from node.services import ledger, points, program, refunds, tiers
from node.services.idempotency import run_idempotent
from node.services.verification import verify_ledger
from node.settings import load_settings
from tests.conftest import PostgresDatabases, fresh_database_url
from tests.factories import make_customer

START = datetime(2026, 1, 1, tzinfo=UTC)
CATEGORIES = ["coffee", "cake", "books", None]


def full_program() -> dict[str, Any]:
    """Four tiers and ten campaigns of every kind, all running through the test."""
    campaigns: list[dict[str, Any]] = []
    for n in range(10):
        campaign: dict[str, Any] = {
            "code": f"c{n}",
            "name": f"Campaign {n}",
            "starts_at": START.isoformat(),
            "ends_at": (START + timedelta(days=3650)).isoformat(),
            "stackable": n % 3 != 0,
            "minimum_purchase": 0 if n % 2 else 5_000,
        }
        if n % 4 == 3:
            campaign.update(kind="fixed", bonus_points=5 + n)
        else:
            campaign.update(kind="multiplier", multiplier_percent=110 + 10 * n)
        if n % 5 == 1:
            campaign["categories"] = ["coffee"]
        if n == 7:
            campaign["tiers"] = ["gold", "platinum"]
        campaigns.append(campaign)
    return {
        "earn": {"points_per_unit": 1, "minimum_purchase": 1_000, "categories": {"coffee": 200}},
        "campaigns": campaigns,
        "tiers": {
            "window_days": 60,
            "review_interval_days": 10,
            "grace_days": 5,
            "levels": [
                {"code": "member", "name": "Member", "threshold": 0},
                {
                    "code": "silver",
                    "name": "Silver",
                    "threshold": 20_000,
                    "multiplier_percent": 110,
                },
                {"code": "gold", "name": "Gold", "threshold": 60_000, "multiplier_percent": 125},
                {
                    "code": "platinum",
                    "name": "Platinum",
                    "threshold": 150_000,
                    "multiplier_percent": 150,
                },
            ],
        },
        "cashback": {"basis_points": 150},
        "expiry": {"days": 20},
    }


def run_machine(backend: str, templates: dict[str, str], postgres: Any, tmp: Path) -> None:
    class ProgramMachine(RuleBasedStateMachine):
        customers = Bundle("customers")
        purchases = Bundle("purchases")

        @initialize()
        def start(self) -> None:
            directory = tmp / f"run-{uuid.uuid4().hex}"
            directory.mkdir()
            self.url = fresh_database_url(backend, templates, postgres, directory)
            self.db = Database(self.url)
            self.clock = ManualClock(START)
            self.secrets = NodeSecrets.generate()
            self.settings = load_settings(environ={}, data_dir=directory, database_url=self.url)
            program.update_program(
                self.db,
                self.settings,
                program=parse_program(full_program()),
                actor="test",
                comment=None,
                now=self.clock.now(),
            )
            self.customer_ids: list[str] = []

        def teardown(self) -> None:
            self.db.dispose()
            if backend == "postgresql":
                assert isinstance(postgres, PostgresDatabases)
                postgres.drop(make_url(self.url).database or "")

        @rule(target=customers)
        def enrol(self) -> str:
            customer = make_customer(self.db, self.secrets, self.clock)
            self.customer_ids.append(customer)
            return customer

        @rule(
            target=purchases,
            customer=customers,
            amounts=st.lists(
                st.tuples(st.sampled_from(CATEGORIES), st.integers(1, 40_000)),
                min_size=1,
                max_size=3,
            ),
        )
        def purchase(self, customer: str, amounts: list[tuple[str | None, int]]) -> tuple[str, str]:
            lines = [Line(amount, category) for category, amount in amounts]
            answer = points.record_purchase(
                self.db,
                self.settings,
                customer_id=customer,
                amount=sum(line.amount for line in lines),
                currency="DKK",
                order_ref=None,
                idempotency_key=f"buy-{uuid.uuid4()}",
                now=self.clock.now(),
                lines=lines,
            )
            assert answer.body["earning"]["points"] >= answer.body["earning"]["base_points"]
            return customer, str(answer.body["transaction"]["id"])

        @rule(purchase=purchases, share=st.integers(1, 100))
        def refund(self, purchase: tuple[str, str], share: int) -> None:
            customer, transaction = purchase
            amount, refunded = self._purchase(transaction)[:2]
            left = amount - refunded
            if left == 0:
                return
            self._refund(customer, transaction, max(1, left * share // 100))

        @rule(customer=customers, wanted=st.integers(1, 2_000))
        def redeem(self, customer: str, wanted: int) -> None:
            balance = ledger.customer_balance(self.db, customer_id=customer, now=self.clock.now())
            try:
                points.redeem_points(
                    self.db,
                    customer_id=customer,
                    points=wanted,
                    reference=None,
                    idempotency_key=f"redeem-{uuid.uuid4()}",
                    now=self.clock.now(),
                )
                assert wanted <= balance.points
            except InsufficientPoints:
                assert wanted > balance.points

        @rule(days=st.integers(1, 15))
        def time_passes(self, days: int) -> None:
            self.clock.advance(timedelta(days=days))

        @rule()
        def jobs(self) -> None:
            now = self.clock.now()
            ledger.expire_due_points(self.db, now=now)
            tiers.review_tiers(self.db, self.settings, now=now)
            tiers.review_tiers(self.db, self.settings, now=now)  # twice: nothing more happens

        @rule()
        def refund_everything(self) -> None:
            with self.db.read() as session:
                rows = session.execute(
                    text(
                        "SELECT p.customer_id, t.public_id, p.amount - p.refunded_amount"
                        " FROM purchase p JOIN ledger_transaction t ON t.id = p.transaction_id"
                        " WHERE p.refunded_amount < p.amount"
                    )
                ).all()
            for customer, transaction, left in rows:
                self._refund(customer, transaction, int(left))
            with self.db.read() as session:
                net = session.execute(
                    text(
                        "SELECT customer_id, sum(points) FROM ledger_transaction"
                        " WHERE kind IN ('earn', 'refund') GROUP BY customer_id"
                    )
                ).all()
            assert all(int(total) == 0 for _, total in net), net
            for customer in self.customer_ids:
                status = tiers.tier_status(
                    self.db, self.settings, customer_id=customer, now=self.clock.now()
                )
                assert status.qualifying_value == 0

        def _purchase(self, transaction: str) -> tuple[int, int, int, int, int, int]:
            with self.db.read() as session:
                row = session.execute(
                    text(
                        "SELECT p.amount, p.refunded_amount, p.points, p.reversed_points,"
                        " p.cashback, p.reversed_cashback FROM purchase p JOIN"
                        " ledger_transaction t ON t.id = p.transaction_id WHERE t.public_id = :t"
                    ),
                    {"t": transaction},
                ).one()
            return tuple(int(value) for value in row)  # type: ignore[return-value]

        def _refund(self, customer: str, transaction: str, amount: int) -> None:
            unit = refunds.refund_unit(
                customer_id=customer,
                transaction_id=transaction,
                order_ref=None,
                amount=amount,
                reference=None,
                idempotency_key=f"refund-{uuid.uuid4()}",
                now=self.clock.now(),
            )
            run_idempotent(self.db, unit)
            total, refunded, earned, reversed_points, cashback, reversed_cash = self._purchase(
                transaction
            )
            assert reversed_points == earned * refunded // total
            assert reversed_cash == cashback * refunded // total

        @invariant()
        def ledger_holds(self) -> None:
            if not hasattr(self, "db"):
                return
            report = verify_ledger(self.db)
            assert report.ok, report.violations
            for customer in self.customer_ids:
                found = ledger.customer_balance(self.db, customer_id=customer, now=self.clock.now())
                assert found.points >= 0 and found.debt >= 0

    ProgramMachine.TestCase.settings = settings(
        max_examples=10 if backend == "sqlite" else 5,
        stateful_step_count=30,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    ProgramMachine.TestCase().runTest()


def test_random_program_sequences_keep_the_ledger_sound(
    backend: str,
    templates: dict[str, str],
    postgres: PostgresDatabases | None,
    tmp_path: Path,
) -> None:
    run_machine(backend, templates, postgres, tmp_path)
