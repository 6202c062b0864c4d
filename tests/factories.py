"""Factories for test data, through the services (never raw SQL)."""

from __future__ import annotations

import uuid
from typing import Any

from node.clock import Clock
from node.db import Database
from node.secrets import NodeSecrets
from node.services import customers, points
from node.services.personal_data import PersonalData
from node.settings import Settings


def make_customer(db: Database, secrets: NodeSecrets, clock: Clock, **personal: Any) -> str:
    answer = customers.enrol_customer(
        db,
        secrets=secrets,
        personal=PersonalData(**personal),
        idempotency_key=f"enrol-{uuid.uuid4()}",
        now=clock.now(),
    )
    return str(answer.body["id"])


def earn(
    db: Database, settings: Settings, clock: Clock, customer_id: str, amount: int, key: str = ""
) -> dict[str, Any]:
    return points.record_purchase(
        db,
        settings,
        customer_id=customer_id,
        amount=amount,
        currency=settings.currency,
        order_ref=None,
        idempotency_key=key or f"earn-{uuid.uuid4()}",
        now=clock.now(),
    ).body


def redeem(
    db: Database, clock: Clock, customer_id: str, amount: int, key: str = ""
) -> dict[str, Any]:
    return points.redeem_points(
        db,
        customer_id=customer_id,
        points=amount,
        reference=None,
        idempotency_key=key or f"redeem-{uuid.uuid4()}",
        now=clock.now(),
    ).body
