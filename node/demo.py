"""`make demo`: a café, a bookshop and a charity node on loopback, with SQLite.

The first run creates ``./demo/<node>`` (keys, database, an operator API key)
and seeds a few members through the real operator API; later runs reuse them.
Ctrl-C stops all three nodes cleanly.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import httpx

NODES = (("cafe", "Café Aroma"), ("bookshop", "Bogladen"), ("charity", "Red Barnet Demo"))
SEED_MEMBERS = (
    ("Ada Lovelace", "ada@example.org", 45_000),
    ("Søren Kierkegaard", "soren@example.org", 12_500),
    ("Karen Blixen", "karen@example.org", 80_000),
)
KEY_FILE = "demo-api-key.txt"
SEEDED_FILE = "demo-seeded.txt"


@dataclass
class DemoNode:
    node_id: str
    name: str
    directory: Path
    port: int
    api_key: str = ""
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _konsort(node: DemoNode, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "node.cli", "--data-dir", str(node.directory), *args],
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout


def prepare(node: DemoNode) -> None:
    if not (node.directory / "konsort.toml").exists():
        _konsort(node, "init", "--node-id", node.node_id, "--display-name", node.name)
    key_file = node.directory / KEY_FILE
    if not key_file.exists():
        token = _konsort(node, "apikey", "create", "--name", "demo").strip().splitlines()[-1]
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(token + "\n")
    node.api_key = key_file.read_text().strip()


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def start(node: DemoNode) -> None:
    if not _port_free(node.port):
        raise SystemExit(
            f"port {node.port} is in use; stop what uses it or run "
            "make demo DEMO_ARGS='--port-base 9101'"
        )
    node.process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "node.cli",
            "--data-dir",
            str(node.directory),
            "serve",
            "--port",
            str(node.port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=open(node.directory / "node.log", "ab"),  # noqa: SIM115 - lives as long as the child
    )


def wait_ready(node: DemoNode, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if node.process is not None and node.process.poll() is not None:
            raise SystemExit(f"{node.node_id} exited; see {node.directory / 'node.log'}")
        try:
            if httpx.get(f"{node.url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{node.node_id} did not become ready; see {node.directory / 'node.log'}")


def seed(node: DemoNode) -> None:
    """Enrol a few members and record purchases, once, through the operator API."""
    marker = node.directory / SEEDED_FILE
    if marker.exists():
        return
    headers = {"Authorization": f"Bearer {node.api_key}"}
    with httpx.Client(base_url=node.url, headers=headers, timeout=10) as client:
        for name, email, spend in SEED_MEMBERS:
            key = {"Idempotency-Key": f"demo-enrol-{node.node_id}-{email}"}
            enrolled = client.post(
                "/api/v1/customers", json={"name": name, "email": email}, headers=key
            )
            enrolled.raise_for_status()
            customer = enrolled.json()["id"]
            client.post(
                f"/api/v1/customers/{customer}/purchases",
                json={"amount": spend, "order_ref": f"demo-{uuid.uuid4().hex[:8]}"},
                headers={"Idempotency-Key": f"demo-earn-{node.node_id}-{email}"},
            ).raise_for_status()
    marker.write_text("seeded\n")


def stop(nodes: Sequence[DemoNode]) -> None:
    for node in nodes:
        if node.process is not None and node.process.poll() is None:
            node.process.send_signal(signal.SIGTERM)
    for node in nodes:
        if node.process is not None:
            try:
                node.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                node.process.kill()
                node.process.wait()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", default="demo", help="where the demo nodes live (./demo)")
    parser.add_argument("--port-base", type=int, default=8101, help="first port (8101)")
    args = parser.parse_args(argv)
    root = Path(args.dir).resolve()
    nodes = [
        DemoNode(node_id, name, root / node_id, args.port_base + index)
        for index, (node_id, name) in enumerate(NODES)
    ]
    stopping = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        print(f"Konsort demo in {root}", flush=True)
        for node in nodes:
            print(f"  preparing {node.node_id} ...", flush=True)
            prepare(node)
        for node in nodes:
            start(node)
        for node in nodes:
            wait_ready(node)
            seed(node)
        print("\nThree nodes are running:\n", flush=True)
        print(f"  {'node':10} {'url':24} operator API key")
        for node in nodes:
            print(f"  {node.node_id:10} {node.url:24} {node.api_key}")
        cafe = nodes[0]
        print(
            "\nTry:\n"
            f"  curl -s {cafe.url}/api/v1/customers/lookup -H 'Authorization: Bearer "
            f"{cafe.api_key}' -H 'Content-Type: application/json' "
            '-d \'{"email": "ada@example.org"}\'\n'
            f"  open {cafe.url}/openapi.json for every route\n"
            "\nLogs are in each node's folder (node.log). Press Ctrl-C to stop.\n"
            "demo ready",
            flush=True,
        )
        while not stopping:
            for node in nodes:
                if node.process is not None and node.process.poll() is not None:
                    print(f"{node.node_id} stopped unexpectedly; see its node.log", flush=True)
                    stopping = True
            time.sleep(0.3)
    finally:
        print("stopping ...", flush=True)
        stop(nodes)
        print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
