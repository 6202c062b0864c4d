"""A café program with a small rewards catalogue, members with points, and a
member's own HTTP client (customer token).

The catalogue (worked examples in docs/rewards.md):

============  ======  =====  =========  =====================================
reward        points  stock  per member  other rules
============  ======  =====  =========  =====================================
free-coffee   300     2      1          vouchers valid 30 days
tote-bag      500     -      -          vouchers never expire
gold-lounge   100     -      -          gold members only
xmas-cake     200     -      -          1-25 December 2026 only
============  ======  =====  =========  =====================================
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from node.clock import ManualClock
from node.db import Database
from node.program import parse_program
from node.secrets import NodeSecrets
from node.services import ledger, rewards
from node.services.program import update_program
from node.services.verification import verify_ledger
from node.settings import Settings
from tests.factories import earn, make_customer
from tests.node.conftest import Operator

PROGRAM: dict[str, Any] = {
    "tiers": {
        "levels": [
            {"code": "member", "name": "Member", "threshold": 0},
            {"code": "gold", "name": "Gold", "threshold": 500_000},
        ]
    },
    "expiry": {"days": 365},
    "rewards": [
        {
            "code": "free-coffee",
            "name": "Free coffee",
            "points": 300,
            "stock": 2,
            "per_customer_limit": 1,
            "voucher_valid_days": 30,
        },
        {"code": "tote-bag", "name": "Tote bag", "points": 500},
        {"code": "gold-lounge", "name": "Gold lounge", "points": 100, "tiers": ["gold"]},
        {
            "code": "xmas-cake",
            "name": "Christmas cake",
            "points": 200,
            "available_from": "2026-12-01T00:00:00Z",
            "available_until": "2026-12-25T00:00:00Z",
        },
    ],
}


@pytest.fixture
def program(db: Database, settings: Settings, clock: ManualClock) -> dict[str, Any]:
    """Store the café program as version 1, in force from now."""
    update_program(
        db, settings, program=parse_program(PROGRAM), actor="test", comment=None, now=clock.now()
    )
    return PROGRAM


@pytest.fixture
def member(
    db: Database, settings: Settings, clock: ManualClock, node_secrets: NodeSecrets, program: Any
) -> str:
    """A member with 1000 points (a 1000.00 DKK purchase)."""
    customer = make_customer(db, node_secrets, clock)
    earn(db, settings, clock, customer, 100_000)
    return customer


def set_tier(db: Database, customer_id: str, tier: str, clock: ManualClock) -> None:
    """Stands in for node.services.tiers (written concurrently): store a member's tier."""
    with db.transaction() as session:
        session.execute(
            text(
                "INSERT INTO customer_tier (customer_id, tier, since, review_at)"
                " VALUES (:c, :t, :now, :now)"
            ),
            {"c": customer_id, "t": tier, "now": clock.now()},
        )


def issue(
    db: Database, settings: Settings, clock: ManualClock, customer_id: str, reward: str, **kw: Any
) -> dict[str, Any]:
    answer = rewards.issue_voucher(
        db,
        settings,
        customer_id=customer_id,
        reward_code=reward,
        idempotency_key=kw.pop("key", f"test:{uuid.uuid4()}"),
        now=clock.now(),
        **kw,
    )
    return answer.body


def balance(db: Database, clock: ManualClock, customer_id: str) -> int:
    return ledger.customer_balance(db, customer_id=customer_id, now=clock.now()).points


def snapshot(db: Database) -> dict[str, Any]:
    """Everything a refused request must leave unchanged."""
    report = verify_ledger(db)
    assert report.ok, report.violations
    with db.read() as session:
        counts = {
            table: session.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one()
            for table in ("ledger_transaction", "voucher", "webhook_event", "idempotency_record")
        }
        stock = {
            str(code): int(issued)
            for code, issued in session.execute(
                text("SELECT reward_code, issued FROM reward_stock")
            )
        }
        balances = {
            str(customer): int(points)
            for customer, points in session.execute(
                text("SELECT customer_id, balance FROM account WHERE customer_id IS NOT NULL")
            )
        }
    return {"totals": report.totals, "counts": counts, "stock": stock, "balances": balances}


def events(db: Database, type_: str) -> list[str]:
    with db.read() as session:
        rows = session.execute(
            text("SELECT payload FROM webhook_event WHERE type = :t ORDER BY id"), {"t": type_}
        )
        return [str(row[0]) for row in rows]


class Member:
    """A member's app: an HTTP client with their customer token."""

    def __init__(self, client: TestClient, customer_id: str, token: str) -> None:
        self.client = client
        self.id = customer_id
        self.auth = {"Authorization": f"Bearer {token}"}

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.client.get(path, headers={**self.auth, **kw.pop("headers", {})}, **kw)

    def post(
        self, path: str, body: Any = None, *, key: str | None = None, **kw: Any
    ) -> httpx.Response:
        headers = {**self.auth, "Idempotency-Key": key or str(uuid.uuid4())}
        return self.client.post(path, json=body, headers=headers, **kw)


def member_app(operator: Operator, customer_id: str) -> Member:
    minted = operator.post(f"/api/v1/customers/{customer_id}/tokens")
    assert minted.status_code == 201, minted.text
    return Member(operator.client, customer_id, minted.json()["token"])
