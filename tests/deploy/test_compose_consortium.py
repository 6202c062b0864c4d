"""docker-compose.yml brought up without Docker: every service's own command,
with that service's environment, as a local process against the local
PostgreSQL (one fresh database per node), in the order its ``depends_on``
conditions give (tests/deploy/compose.py says what stands in for what).

Then, through the nodes' public APIs: a member enrols at the café and the
bookshop with consent to partner transfers, earns at the café, links the two
accounts, moves café points to the bookshop; then each side sends its
settlement statement of the period and the other agrees: the café owes the
bookshop the transfer's value by both sides' records.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import PostgresDatabases
from tests.deploy.compose import Dockerfile, LocalCompose, is_database, load_compose

pytestmark = pytest.mark.slow

#: The secrets compose demands (``${..:?..}``); the local server trusts loopback.
VARIABLES = {
    "CAFE_DB_PASSWORD": "cafe-secret",
    "BOOKSHOP_DB_PASSWORD": "bookshop-secret",
    "CHARITY_DB_PASSWORD": "charity-secret",
}


@pytest.fixture
def consortium(tmp_path: Path, postgres: PostgresDatabases | None) -> Iterator[LocalCompose]:
    if postgres is None:
        pytest.skip("needs PostgreSQL: set KONSORT_TEST_DATABASE_URL")
    compose = load_compose(VARIABLES)
    databases = {
        name: postgres.create() for name, svc in compose["services"].items() if is_database(svc)
    }
    local = LocalCompose(
        compose,
        Dockerfile.read(),
        tmp_path,
        {service: postgres.url_for(db) for service, db in databases.items()},
    )
    try:
        local.up()
        yield local
    finally:
        local.down()
        for name in databases.values():
            postgres.drop(name)


def eventually(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not after {timeout:.0f} s")
        time.sleep(0.2)


class Node:
    """A node's operator API (an API key made as `docker compose exec` would)."""

    def __init__(self, local: LocalCompose, name: str) -> None:
        key = local.exec(name, "apikey", "create", "--name", "compose test").splitlines()[-1]
        self.client = httpx.Client(
            base_url=local.url(name), headers={"Authorization": f"Bearer {key}"}, timeout=15
        )

    def __enter__(self) -> Node:
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()

    def write(self, path: str, body: dict[str, Any], **headers: str) -> dict[str, Any]:
        key = {"Idempotency-Key": f"compose-{uuid.uuid4().hex}"}
        answer = self.client.post(path, json=body, headers={**key, **headers})
        assert answer.status_code < 300, answer.text
        found: dict[str, Any] = answer.json()
        return found

    def read(self, path: str, **headers: str) -> dict[str, Any]:
        answer = self.client.get(path, headers=headers)
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found

    def member_token(self, customer: str) -> dict[str, str]:
        token = self.client.post(f"/api/v1/customers/{customer}/tokens")
        assert token.status_code < 300, token.text
        return {"Authorization": f"Bearer {token.json()['token']}"}


def test_the_compose_consortium_links_transfers_and_settles(consortium: LocalCompose) -> None:
    for name in ("cafe", "bookshop", "charity"):
        ready = httpx.get(f"{consortium.url(name)}/readyz", timeout=5).json()
        assert ready == {"status": "ready", "node_id": name}
    with Node(consortium, "cafe") as cafe, Node(consortium, "bookshop") as bookshop:
        check_the_flow(cafe, bookshop)


def check_the_flow(cafe: Node, bookshop: Node) -> None:
    federation = cafe.read("/api/v1/federation/status")
    assert federation["manifest_version"] >= 1, federation

    enrol = {"consents": {"partner_transfers": True}}
    at_cafe = cafe.write("/api/v1/customers", enrol)["id"]
    at_bookshop = bookshop.write("/api/v1/customers", enrol)["id"]
    cafe.write(f"/api/v1/customers/{at_cafe}/purchases", {"amount": 100_000, "order_ref": "c-1"})

    code = bookshop.write(
        "/api/v1/me/link-codes", {"partner": "cafe"}, **bookshop.member_token(at_bookshop)
    )
    mine = cafe.member_token(at_cafe)
    link = {"partner": "bookshop", "link_code": code["link_code"], "subject": code["subject"]}
    cafe.write("/api/v1/me/links", link, **mine)
    eventually(
        lambda: [x["status"] for x in cafe.read("/api/v1/me/links", **mine)["items"]] == ["active"],
        "the link is active",
    )

    moved = cafe.write(
        f"/api/v1/customers/{at_cafe}/transfers", {"partner": "bookshop", "points": 500}
    )
    transfer = moved["transfer"]
    assert transfer["partner_points"] == 208  # 500 x 0.50 DKK buys 208 x 1.20 DKK
    done = eventually(
        lambda: [
            item
            for item in cafe.read(f"/api/v1/customers/{at_cafe}/transfers")["items"]
            if item["id"] == transfer["id"] and item["status"] == "accepted"
        ],
        "the transfer is accepted",
    )[0]
    balance = bookshop.read(f"/api/v1/customers/{at_bookshop}/balance")
    assert balance["points"] == 208, balance

    signed = datetime.fromisoformat(done["created_at"].replace("Z", "+00:00"))
    start = (signed - timedelta(hours=1)).replace(microsecond=0)
    end = eventually(
        lambda: (now := datetime.now(UTC).replace(microsecond=0)) > signed and now,
        "the period is over",
    )
    period = {
        "period_start": start.isoformat().replace("+00:00", "Z"),
        "period_end": end.isoformat().replace("+00:00", "Z"),
        "force": True,  # skips only the 7-day wait for late requests
    }
    # Each side states the period; the other compares with its own records.
    cafe.write("/api/v1/settlement/statements", {"partner": "bookshop", **period})
    bookshop.write("/api/v1/settlement/statements", {"partner": "cafe", **period})

    def agreed(node: Node, partner: str) -> dict[str, Any] | None:
        periods = node.read(f"/api/v1/settlement/periods?partner={partner}")["items"]
        return next((p for p in periods if p["state"] in ("agreed", "settled")), None)

    at_cafe_side = eventually(lambda: agreed(cafe, "bookshop"), "the café's period is agreed")
    at_bookshop_side = eventually(lambda: agreed(bookshop, "cafe"), "the bookshop agrees")
    assert at_cafe_side["net_minor"] == -done["value_minor"] == -24_960
    assert at_bookshop_side["net_minor"] == 24_960
    assert at_cafe_side["statements"][-1]["partner_net_minor"] == -24_960
    assert at_bookshop_side["statements"][-1]["partner_net_minor"] == 24_960
    assert at_cafe_side["owed_by"] == at_bookshop_side["owed_by"] == "cafe"
    assert (at_cafe_side["period_start"], at_cafe_side["period_end"]) == (
        at_bookshop_side["period_start"],
        at_bookshop_side["period_end"],
    )
