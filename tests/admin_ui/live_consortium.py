"""A live three-node consortium for browser journeys: the demo's café, bookshop and
charity as real ``konsort serve`` processes on loopback ports.

The nodes are built by the demo's own set-up code (node/demo.py: init, API key,
staff logins, a steward-signed manifest pinned and loaded on each) in a
temporary directory, once per test module. Members are enrolled and linked
through the real APIs (a link code from one node, entered at the other), so
every link runs the real federation flow. One node can be stopped and started
again on its port to show that the outbox delivers once the node is back.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from node import demo
from tests.admin_ui.browser import free_port

#: How long a node may take to come up: a start-up wait, not a timed assertion
#: (the interpreter's imports take long on a loaded two-core machine).
START_UP_SECONDS = 180.0


@dataclass
class LiveConsortium:
    cafe: demo.DemoNode
    bookshop: demo.DemoNode
    charity: demo.DemoNode

    @property
    def nodes(self) -> list[demo.DemoNode]:
        return [self.cafe, self.bookshop, self.charity]

    def stop(self, node: demo.DemoNode) -> None:
        """SIGTERM, and wait until the process is gone (its port is free again)."""
        demo.stop([node])

    def start(self, node: demo.DemoNode) -> None:
        """Start a stopped node again on the same port and data, and wait until it is ready."""
        demo.start(node)
        demo.wait_ready(node, timeout=START_UP_SECONDS)


def federated(root: Path, node_ids: Collection[str]) -> list[demo.DemoNode]:
    """The demo's nodes named, each prepared under ``root`` on a free port, in one
    consortium whose manifest the steward signed and every node loaded; not started."""
    nodes = [
        demo.DemoNode(node_id, name, root / node_id, free_port())
        for node_id, name in demo.NODES
        if node_id in node_ids
    ]
    for node in nodes:
        node.directory.mkdir()
        demo.prepare(node)
    demo.federate(nodes, root)
    return nodes


@pytest.fixture(scope="module")
def consortium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveConsortium]:
    """The demo's three nodes, running, in one signed consortium (no members yet)."""
    nodes = federated(tmp_path_factory.mktemp("three-nodes"), ("cafe", "bookshop", "charity"))
    try:
        for node in nodes:
            demo.start(node)
        for node in nodes:
            demo.wait_ready(node, timeout=START_UP_SECONDS)
        cafe, bookshop, charity = nodes
        yield LiveConsortium(cafe, bookshop, charity)
    finally:
        demo.stop(nodes)


def operator(node: demo.DemoNode) -> dict[str, str]:
    return {"Authorization": f"Bearer {node.api_key}"}


def idempotent(headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "Idempotency-Key": str(uuid.uuid4())}


def enrol(node: demo.DemoNode, name: str, email: str) -> str:
    """A new member, with consent to partner transfers (linking needs it); their id."""
    enrolled = httpx.post(
        f"{node.url}/api/v1/customers",
        json={"name": name, "email": email, "consents": {"partner_transfers": True}},
        headers=idempotent(operator(node)),
        timeout=10,
    )
    enrolled.raise_for_status()
    return str(enrolled.json()["id"])


def member(node: demo.DemoNode, customer: str) -> dict[str, str]:
    """Headers with a fresh customer token, as the member's app would send them."""
    minted = httpx.post(
        f"{node.url}/api/v1/customers/{customer}/tokens", headers=operator(node), timeout=10
    )
    minted.raise_for_status()
    return {"Authorization": f"Bearer {minted.json()['token']}"}


def links(node: demo.DemoNode, customer: str) -> dict[str, str]:
    """The member's links at ``node``: partner → status."""
    found = httpx.get(f"{node.url}/api/v1/me/links", headers=member(node, customer), timeout=10)
    found.raise_for_status()
    return {link["partner"]: link["status"] for link in found.json()["items"]}


def start_link(home: demo.DemoNode, at_home: str, partner: demo.DemoNode, at_partner: str) -> None:
    """The member gets a link code at ``partner`` and enters it at ``home`` (202, pending)."""
    code = httpx.post(
        f"{partner.url}/api/v1/me/link-codes",
        json={"partner": home.node_id},
        headers=member(partner, at_partner),
        timeout=10,
    )
    code.raise_for_status()
    entered = httpx.post(
        f"{home.url}/api/v1/me/links",
        json={"partner": partner.node_id, **{k: code.json()[k] for k in ("link_code", "subject")}},
        headers=idempotent(member(home, at_home)),
        timeout=10,
    )
    entered.raise_for_status()


def notices(node: demo.DemoNode, request_ref: str) -> dict[str, dict[str, Any]]:
    """The partner notices of one request at ``node``, by partner (operator API)."""
    found = httpx.get(
        f"{node.url}/api/v1/privacy/notices",
        params={"request_ref": request_ref},
        headers=operator(node),
        timeout=10,
    )
    found.raise_for_status()
    return {notice["partner"]: notice for notice in found.json()["items"]}
