"""An in-process node behind Starlette's TestClient, with an operator API key."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from node.app import create_app
from node.clock import ManualClock
from node.db import Database
from node.secrets import NodeSecrets
from node.services.apikeys import create_api_key
from node.settings import Settings


class Operator:
    """A till: an HTTP client that sends the API key and fresh Idempotency-Keys."""

    def __init__(self, client: TestClient, token: str) -> None:
        self.client = client
        self.auth = {"Authorization": f"Bearer {token}"}

    def post(
        self, path: str, body: Any = None, *, key: str | None = None, **kw: Any
    ) -> httpx.Response:
        headers = {
            **self.auth,
            "Idempotency-Key": key or str(uuid.uuid4()),
            **kw.pop("headers", {}),
        }
        return self.client.post(path, json=body, headers=headers, **kw)

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.client.get(path, headers={**self.auth, **kw.pop("headers", {})}, **kw)

    def enrol(self, **personal: Any) -> str:
        response = self.post("/api/v1/customers", personal)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def earn(self, customer: str, amount: int, **kw: Any) -> httpx.Response:
        return self.post(f"/api/v1/customers/{customer}/purchases", {"amount": amount}, **kw)


@pytest.fixture
def client(
    settings: Settings, db: Database, clock: ManualClock, node_secrets: NodeSecrets
) -> Iterator[TestClient]:
    app = create_app(settings, clock=clock, secrets=node_secrets, database=db, run_jobs=False)
    with TestClient(app, base_url="http://cafe.test") as test_client:
        yield test_client


@pytest.fixture
def operator(client: TestClient, db: Database, clock: ManualClock) -> Operator:
    return Operator(client, create_api_key(db, name="till 1", now=clock.now()).token)
