"""The node's background jobs run inside the app: a webhook reaches its receiver."""

from __future__ import annotations

import json
import time
import uuid

import httpx
from starlette.testclient import TestClient

from node.app import create_app
from node.clock import ManualClock
from node.db import Database
from node.jobs import node_jobs
from node.secrets import NodeSecrets
from node.services.apikeys import create_api_key
from node.settings import Settings


def test_a_running_node_delivers_an_enrolment_webhook(
    settings: Settings, db: Database, clock: ManualClock, node_secrets: NodeSecrets
) -> None:
    received: list[httpx.Request] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(204)

    running = settings.model_copy(update={"webhook_interval_seconds": 1})
    app = create_app(
        running,
        clock=clock,
        secrets=node_secrets,
        database=db,
        transport=httpx.MockTransport(receiver),
    )
    token = create_api_key(db, name="till", now=clock.now()).token
    auth = {"Authorization": f"Bearer {token}"}
    with TestClient(app, base_url="http://cafe.test") as client:
        hook = client.post(
            "/api/v1/webhooks",
            json={"url": "https://shop.example/hooks", "events": ["customer.enrolled"]},
            headers={**auth, "Idempotency-Key": str(uuid.uuid4())},
        )
        assert hook.status_code == 201, hook.text
        enrolled = client.post(
            "/api/v1/customers", json={}, headers={**auth, "Idempotency-Key": "enrol-1"}
        )
        deadline = time.monotonic() + 20
        while not received and time.monotonic() < deadline:
            time.sleep(0.05)
    assert len(received) == 1
    event = json.loads(received[0].content)
    assert event["type"] == "customer.enrolled"
    assert event["data"] == {"customer_id": enrolled.json()["id"]}
    assert received[0].headers["webhook-signature"].startswith("v1,")


def test_jobs_with_interval_zero_do_not_run(
    settings: Settings, db: Database, clock: ManualClock, node_secrets: NodeSecrets
) -> None:
    app = create_app(settings, clock=clock, secrets=node_secrets, database=db)
    node = app.state.node
    all_on = settings.model_copy(
        update={
            "expiry_interval_seconds": 60,
            "program_jobs_interval_seconds": 60,
            "webhook_interval_seconds": 5,
        }
    )
    assert node_jobs(node, http=None) == []  # type: ignore[arg-type]
    on = create_app(all_on, clock=clock, secrets=node_secrets, database=db).state.node
    assert [job.name for job in node_jobs(on, http=None)] == [  # type: ignore[arg-type]
        "expiry",
        "program",
        "webhooks",
    ]
