"""A webhook receiver in the test process, and helpers that drive delivery.

The receiver is an ``httpx.MockTransport`` handler: it records every request
and answers from a script (a status code, or an exception to raise), so tests
see exactly what a real receiver would get, without a network.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import httpx
import pytest

from node.clock import ManualClock
from node.db import Database
from node.program.config import EVENT_TYPES
from node.secrets import NodeSecrets
from node.services import webhooks
from node.services.events import record_event_txn
from node.services.webhook_delivery import DeliveryReport, deliver_webhooks


class Receiver:
    """Records requests; answers each with the next scripted answer, then ``default``."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.script: list[int | BaseException] = []
        self.default: int = 200

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.script.pop(0) if self.script else self.default
        if isinstance(answer, BaseException):
            raise answer
        return httpx.Response(answer, text="receiver detail that must never be stored")

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(request.content) for request in self.requests]

    def sent_to(self, url: str) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests if str(r.url) == url]


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


def deliver(
    db: Database,
    secrets: NodeSecrets,
    now: datetime,
    receiver: Callable[[httpx.Request], Any],  # a Receiver, or any MockTransport handler
    **options: Any,
) -> DeliveryReport:
    """One delivery run, as the node's background job would make it."""

    async def run() -> DeliveryReport:
        async with httpx.AsyncClient(transport=httpx.MockTransport(receiver)) as client:
            return await deliver_webhooks(db, secrets, client=client, now=now, **options)

    return asyncio.run(run())


def add_webhook(
    db: Database,
    secrets: NodeSecrets,
    clock: ManualClock,
    *,
    url: str = "https://hooks.example/konsort",
    events: Sequence[str] = EVENT_TYPES,
) -> tuple[str, str]:
    """(endpoint id, whsec_ secret) of a new webhook."""
    answer = asyncio.run(
        webhooks.add_endpoint(
            db,
            secrets,
            url=url,
            events=list(events),
            idempotency_key=f"test:{uuid.uuid4()}",
            now=clock.now(),
        )
    )
    return str(answer.body["id"]), str(answer.body["secret"])


def record_event(db: Database, clock: ManualClock, type: str, **payload: Any) -> str:
    """Queue an event as a cause's transaction would; returns its ``evt_`` id."""
    return db.write(
        lambda session: record_event_txn(
            session=session, type=type, payload=payload, now=clock.now()
        )
    )


def deliveries(db: Database, **filters: Any) -> list[dict[str, Any]]:
    return webhooks.list_deliveries(
        db,
        status=filters.get("status"),
        endpoint_id=filters.get("endpoint_id"),
        limit=500,
        cursor=None,
    ).items
