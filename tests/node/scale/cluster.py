"""A node served by several ``konsort serve`` processes on one PostgreSQL, and a partner.

Built with the real CLI only, like the federation fault harness
(tests/node/federation/faults.py), whose process helpers it reuses: a
steward, the node "cafe" initialised on a PostgreSQL database (``konsort
init --database-url``) and the partner "bookshop" on SQLite. The manifest
names the first cafe process's URL as cafe's endpoint (the load balancer's
place); every cafe process shares the data directory (keys, konsort.toml)
and the database, and listens on its own port.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.processes import free_port
from tests.node.federation.faults import FaultNode, konsort, node_env


@dataclass
class Cluster:
    steward: Path
    cafe: list[FaultNode]
    bookshop: FaultNode

    @property
    def processes(self) -> list[FaultNode]:
        return [*self.cafe, self.bookshop]


def set_up_cluster(
    root: Path, database_url: str, *, cafe_processes: int = 2, **intervals: str
) -> Cluster:
    """Data directories, keys, a signed manifest, an API key per node (by the CLI)."""
    env = {**node_env(0.2), **intervals}
    steward = root / "steward"
    cafe_dir, bookshop_dir = root / "cafe", root / "bookshop"
    cafe = [
        FaultNode("cafe", "business", 50, cafe_dir, free_port(), env) for _ in range(cafe_processes)
    ]
    bookshop = FaultNode("bookshop", "business", 100, bookshop_dir, free_port(), env)
    konsort(root, "steward", "init", "--steward-dir", str(steward), "--consortium",
            "konsort-scale", "--currency", "DKK", "--exponent", "2", env=env)  # fmt: skip
    jwks = {
        "cafe": konsort(cafe_dir, "init", "--node-id", "cafe", "--database-url", database_url,
                        env=env),
        "bookshop": konsort(bookshop_dir, "init", "--node-id", "bookshop", env=env),
    }  # fmt: skip
    for node in (cafe[0], bookshop):
        (root / f"{node.node_id}.jwk").write_text(jwks[node.node_id])
        konsort(root, "steward", "add-member", "--steward-dir", str(steward),
                "--node-id", node.node_id, "--display-name", node.node_id.title(),
                "--kind", node.kind, "--endpoint", node.url,
                "--point-value", str(node.point_value),
                "--jwk", str(root / f"{node.node_id}.jwk"), env=env)  # fmt: skip
    for node in (cafe[0], bookshop):
        konsort(node.directory, "consortium", "pin-steward", str(steward / "steward.jwk"), env=env)
        konsort(node.directory, "consortium", "load", str(steward / "manifest.jws"), env=env)
        printed = konsort(node.directory, "apikey", "create", "--name", "scale", env=env)
        node.api_key = printed.strip().splitlines()[-1]
    for process in cafe[1:]:
        process.api_key = cafe[0].api_key
    return Cluster(steward, cafe, bookshop)


@contextmanager
def serving(nodes: list[FaultNode]) -> Iterator[None]:
    try:
        for node in nodes:
            node.start()
        for node in nodes:
            node.wait_ready()
        yield
    finally:
        for node in nodes:
            node.stop()
