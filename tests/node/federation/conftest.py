"""In-process consortia: real nodes (each its own database), wired over
``httpx.ASGITransport`` by host name, with a steward-signed manifest."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url
from starlette.applications import Starlette
from starlette.testclient import TestClient

from node.app import create_app
from node.clock import ManualClock
from node.db import Database
from node.secrets import NodeSecrets
from node.services import identity
from node.services.apikeys import create_api_key
from node.services.federation import load_manifest, unix
from node.services.federation_handlers import ANSWER_HANDLERS
from node.services.outbox import DeliveryReport, deliver_outbox
from node.settings import Settings, load_settings
from protocol import (
    Manifest,
    Member,
    MemberKey,
    SigningKey,
    generate_private_key,
    sign_manifest,
)
from tests.conftest import PostgresDatabases, fresh_database_url

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Router(httpx.AsyncBaseTransport):
    """Sends each request to the app of its host; a host that is down raises."""

    def __init__(self) -> None:
        self.apps: dict[str, httpx.ASGITransport] = {}
        self.down: set[str] = set()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if host in self.down or host not in self.apps:
            raise httpx.ConnectError(f"{host} is down", request=request)
        return await self.apps[host].handle_async_request(request)


@dataclass
class Node:
    node_id: str
    settings: Settings
    db: Database
    secrets: NodeSecrets
    app: Starlette
    client: TestClient
    api_key: str

    @property
    def federation(self) -> Any:
        return self.app.state.node.federation

    def operator(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def enrol(self, *, partner_transfers: bool = True) -> str:
        """A member; by default one who consents to partner transfers."""
        response = self.client.post(
            "/api/v1/customers",
            json={"consents": {"partner_transfers": True}} if partner_transfers else {},
            headers={**self.operator(), "Idempotency-Key": str(uuid.uuid4())},
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def earn(self, customer: str, amount: int) -> None:
        response = self.client.post(
            f"/api/v1/customers/{customer}/purchases",
            json={"amount": amount},
            headers={**self.operator(), "Idempotency-Key": str(uuid.uuid4())},
        )
        assert response.status_code == 201, response.text

    def token(self, customer: str) -> dict[str, str]:
        minted = self.client.post(f"/api/v1/customers/{customer}/tokens", headers=self.operator())
        return {"Authorization": f"Bearer {minted.json()['token']}"}

    def balance(self, customer: str) -> int:
        found = self.client.get(f"/api/v1/customers/{customer}/balance", headers=self.operator())
        return int(found.json()["points"])


@dataclass
class Consortium:
    clock: ManualClock
    router: Router
    nodes: dict[str, Node] = field(default_factory=dict)

    def __getitem__(self, node_id: str) -> Node:
        return self.nodes[node_id]

    def deliver(self, node_id: str) -> DeliveryReport:
        node = self.nodes[node_id]

        async def run() -> DeliveryReport:
            async with httpx.AsyncClient(transport=self.router) as client:
                return await deliver_outbox(
                    node.db,
                    node.federation,
                    client=client,
                    clock=self.clock,
                    answer_handlers=ANSWER_HANDLERS,
                )

        return asyncio.run(run())

    def settle(self) -> None:
        """Deliver every due message everywhere until nothing moves."""
        for _ in range(10):
            if not any(self.deliver(node_id).attempted for node_id in self.nodes):
                return
        raise AssertionError("messages still moving after 10 rounds")

    def link(self, a: str, a_customer: str, b: str, b_customer: str) -> None:
        """The member gets a code at ``b`` and enters it at ``a``; the nodes link."""
        code = self[b].client.post(
            "/api/v1/me/link-codes", json={"partner": a}, headers=self[b].token(b_customer)
        )
        assert code.status_code == 201, code.text
        asked = self[a].client.post(
            "/api/v1/me/links",
            json={
                "partner": b,
                "link_code": code.json()["link_code"],
                "subject": code.json()["subject"],
            },
            headers={**self[a].token(a_customer), "Idempotency-Key": str(uuid.uuid4())},
        )
        assert asked.status_code == 202, asked.text
        self.settle()


def build_manifest(
    nodes: dict[str, tuple[SigningKey, str, int]], *, version: int, issued_at: datetime
) -> Manifest:
    """(signing key, kind, point value) per node id."""
    members = [
        Member(
            node_id=node_id,
            display_name=node_id.title(),
            kind=kind,  # type: ignore[arg-type]
            endpoint=f"http://{node_id}.test",
            point_value=value,
            status="active",
            keys=[
                MemberKey(
                    jwk=key.public_jwk(),
                    not_before=unix(issued_at) - 86_400,
                    not_after=unix(issued_at) + 5 * 365 * 86_400,
                    revoked_at=None,
                )
            ],
        )
        for node_id, (key, kind, value) in sorted(nodes.items())
    ]
    return Manifest(
        consortium="konsort-test",
        version=version,
        issued_at=unix(issued_at),
        settlement_currency="DKK",
        minor_unit_exponent=2,
        members=members,
    )


MEMBERS = {"cafe": ("business", 50), "bookshop": ("business", 120), "charity": ("charity", 100)}


@pytest.fixture
def consortium(
    backend: str,
    templates: dict[str, str],
    postgres: PostgresDatabases | None,
    tmp_path: Path,
) -> Iterator[Consortium]:
    """Café (1 point = 0.50 DKK), bookshop (1.20 DKK) and a charity (1.00 DKK)."""
    clock = ManualClock(START)
    network = Consortium(clock, Router())
    steward = SigningKey("steward:k1", generate_private_key())
    keys: dict[str, tuple[SigningKey, str, int]] = {}
    urls = []
    for node_id, (kind, value) in MEMBERS.items():
        directory = tmp_path / node_id
        directory.mkdir()
        url = fresh_database_url(backend, templates, postgres, directory)
        urls.append(url)
        settings = load_settings(
            environ={},
            node_id=node_id,
            data_dir=directory,
            database_url=url,
            expiry_interval_seconds=0,
            program_jobs_interval_seconds=0,
            webhook_interval_seconds=0,
            federation_interval_seconds=0,
        )
        key = identity.create_signing_key(settings.keys_dir, node_id=node_id, now=clock.now())
        identity.pin_steward_key(settings.keys_dir, steward.public_jwk())
        keys[node_id] = (key, kind, value)
        db = Database(url)
        secrets = NodeSecrets.generate()
        app = create_app(
            settings,
            clock=clock,
            secrets=secrets,
            database=db,
            run_jobs=False,
            transport=network.router,
        )
        client = TestClient(app, base_url=f"http://{node_id}.test").__enter__()
        token = create_api_key(db, name="till", now=clock.now()).token
        network.nodes[node_id] = Node(node_id, settings, db, secrets, app, client, token)
        network.router.apps[f"{node_id}.test"] = httpx.ASGITransport(app=app)
    signed = sign_manifest(build_manifest(keys, version=1, issued_at=clock.now()), steward=steward)
    for node in network.nodes.values():
        load_manifest(node.db, keys_dir=node.settings.keys_dir, token=signed, now=clock.now())
    try:
        yield network
    finally:
        for node in network.nodes.values():
            node.client.__exit__(None, None, None)
            node.db.dispose()
        if backend == "postgresql" and postgres is not None:
            for url in urls:
                postgres.drop(make_url(url).database or "")
