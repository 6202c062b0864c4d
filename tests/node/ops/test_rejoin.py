"""Restore and rejoin, with real `konsort serve` processes: a café and a bookshop
in one consortium, a member linked at both who moved points; the café is backed
up while it serves, wiped, restored with `konsort restore` and started again.
Its ledger verifies, every balance is what it was, the member's token and the
till's API key still work, and a new transfer café → bookshop is accepted: the
bookshop takes the restored café's signatures (same keys, same manifest).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from tests.node.federation.faults import (
    FaultRunError,
    Person,
    Record,
    Till,
    enrol_people,
    konsort,
    link_people,
    running,
    set_up_network,
)

pytestmark = pytest.mark.slow

MEMBERS = (("cafe", "business", 50), ("bookshop", "business", 120))


def transfer(till: Till, person: Person, source: str, target: str, points: int) -> dict[str, str]:
    """Move points; wait until the partner's answer is in; the operation as the member sees it."""
    started = till.expect(202, till.call(
        source, "POST", "/api/v1/me/transfers", json_body={"partner": target, "points": points},
        token=person.tokens[source], key=f"transfer-{time.monotonic_ns()}",
    ))["transfer"]  # fmt: skip
    deadline = time.monotonic() + 60
    while True:
        listed = till.expect(200, till.call(source, "GET", "/api/v1/me/transfers",
                                            token=person.tokens[source]))  # fmt: skip
        found = {item["id"]: item for item in listed["items"]}[started["id"]]
        if found["status"] in ("accepted", "rejected"):
            return dict(found)
        if time.monotonic() > deadline:
            raise FaultRunError(f"transfer {started['id']} still {found['status']}")
        time.sleep(0.1)


def balances(till: Till, person: Person) -> dict[str, int]:
    return {
        node_id: int(till.expect(200, till.call(
            node_id, "GET", f"/api/v1/customers/{customer}/balance"))["points"])
        for node_id, customer in person.accounts.items()
    }  # fmt: skip


def test_a_restored_cafe_verifies_and_rejoins_its_consortium(tmp_path: Path) -> None:
    nodes = set_up_network(tmp_path, MEMBERS)
    cafe = nodes[0]
    till = Till({node.node_id: node for node in nodes})
    archive = tmp_path / "cafe-backup.tar.gz"
    with till.client, running(nodes):
        (ada,) = enrol_people(till, Record(), 1, funding=40_000)
        link_people(till, [ada])
        first = transfer(till, ada, "cafe", "bookshop", 120)
        assert first["status"] == "accepted", first
        before = balances(till, ada)

        printed = konsort(cafe.directory, "backup", "--output", str(archive), env=cafe.env)
        assert printed.startswith(f"wrote {archive} (mode 0600): node cafe")
        cafe.stop()
        shutil.rmtree(cafe.directory)
        restored = konsort(cafe.directory, "restore", str(archive), env=cafe.env)
        assert restored.endswith("ledger OK\n"), restored
        cafe.start()
        cafe.wait_ready()

        assert balances(till, ada) == before
        second = transfer(till, ada, "cafe", "bookshop", 60)
        assert second["status"] == "accepted", second
        after = balances(till, ada)
        assert after["cafe"] == before["cafe"] - 60
        assert after["bookshop"] == before["bookshop"] + int(second["partner_points"])
        assert int(second["partner_points"]) == 60 * 50 // 120
    for node in nodes:
        assert konsort(node.directory, "ledger", "verify", env=node.env).endswith("ledger OK\n")
