"""`make demo`: a linked consortium of a café, a bookshop and a charity on loopback.

The first run creates ``./demo/<node>`` (keys, database, an operator API key),
a steward in ``./demo/steward`` that signs a manifest with the three members
(café points worth 0.50 DKK, bookshop 1.20 DKK, charity 1.00 DKK), loads it on
every node, seeds a few members through the real operator API and links Ada's
café account with her bookshop account through the real link flow. Later runs
reuse all of it (and re-sign the manifest if the ports changed). Ctrl-C stops
all three nodes cleanly.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import httpx

from node import cli

NODES = (("cafe", "Café Aroma"), ("bookshop", "Bogladen"), ("charity", "Red Barnet Demo"))
#: (kind, point value in øre) per node, as the steward signs them.
MEMBERSHIP = {"cafe": ("business", 50), "bookshop": ("business", 120), "charity": ("charity", 100)}
STEWARD = "steward"
#: The bookshop's program: a reward it offers its partners' customers too.
BOOKSHOP_PROGRAM = """
[earn]
points_per_unit = 1

[[rewards]]
code = "book-voucher-50"
name = "50 kr book voucher"
points = 40
partner_offer = true
voucher_valid_days = 90
"""
PROGRAM_FILE = "demo-program.toml"
PORTS_FILE = "demo-ports.txt"
LINKED_FILE = "demo-linked.txt"
SEED_MEMBERS = (
    ("Ada Lovelace", "ada@example.org", 45_000),
    ("Søren Kierkegaard", "soren@example.org", 12_500),
    ("Karen Blixen", "karen@example.org", 80_000),
)
KEY_FILE = "demo-api-key.txt"
#: Demo staff logins of the admin UI, one per role ("username password" lines).
STAFF_FILE = "demo-staff.txt"
STAFF_ROLES = ("operator", "privacy_officer", "auditor")
SEEDED_FILE = "demo-seeded.txt"


@dataclass
class DemoNode:
    node_id: str
    name: str
    directory: Path
    port: int
    api_key: str = ""
    #: (username, password) per role: demo passwords, printed on purpose.
    staff: dict[str, tuple[str, str]] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _run(*args: str, stdin: str = "") -> str:
    """One `konsort` command, in this process (no interpreter start-up per command)."""
    out, err = io.StringIO(), io.StringIO()
    saved_stdin, sys.stdin = sys.stdin, io.StringIO(stdin)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(list(args))
    finally:
        sys.stdin = saved_stdin
    if code != 0:
        raise SystemExit(f"konsort {' '.join(args[:4])} failed: {err.getvalue().strip()}")
    return out.getvalue()


def _konsort(node: DemoNode, *args: str, stdin: str = "") -> str:
    return _run("--data-dir", str(node.directory), *args, stdin=stdin)


def federate(nodes: Sequence[DemoNode], root: Path) -> None:
    """Steward, manifest and membership: signed once, again only if the ports changed."""
    steward = root / STEWARD
    ports = ",".join(str(node.port) for node in nodes)
    marker = root / PORTS_FILE
    if marker.exists() and marker.read_text().strip() == ports:
        return
    if not (steward / "steward.jwk").exists():
        _run(
            "steward",
            "init",
            "--steward-dir",
            str(steward),
            "--consortium",
            "konsort-demo",
            "--currency",
            "DKK",
            "--exponent",
            "2",
        )
    for node in nodes:
        jwk = _konsort(node, "keys", "show").splitlines()[0].split("\t")[0]
        kind, value = MEMBERSHIP[node.node_id]
        _run(
            "steward",
            "add-member",
            "--steward-dir",
            str(steward),
            "--node-id",
            node.node_id,
            "--display-name",
            node.name,
            "--kind",
            kind,
            "--endpoint",
            node.url,
            "--point-value",
            str(value),
            "--jwk",
            jwk,
        )
    bookshop = next(node for node in nodes if node.node_id == "bookshop")
    program = bookshop.directory / PROGRAM_FILE
    if not program.exists():
        program.write_text(BOOKSHOP_PROGRAM)
        _konsort(bookshop, "program", "apply", str(program), "--comment", "demo partner reward")
    for node in nodes:
        if not (node.directory / "keys" / "steward.jwk").exists():
            _konsort(node, "consortium", "pin-steward", str(steward / "steward.jwk"))
        _konsort(node, "consortium", "load", str(steward / "manifest.jws"))
    marker.write_text(ports + "\n")


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
    staff_file = node.directory / STAFF_FILE
    if not staff_file.exists():
        lines = []
        for role in STAFF_ROLES:
            username, password = role.replace("_", "-"), secrets.token_urlsafe(12)
            _konsort(
                node,
                "admin",
                "create-user",
                "--username",
                username,
                "--role",
                role,
                "--password-stdin",
                stdin=password + "\n",
            )
            lines.append(f"{role} {username} {password}")
        fd = os.open(staff_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write("\n".join(lines) + "\n")
    for line in staff_file.read_text().splitlines():
        role, username, password = line.split()
        node.staff[role] = (username, password)


def portal_link(node: DemoNode, customer: str) -> str:
    """A fresh one-time member portal sign-in link (it expires in minutes)."""
    minted = httpx.post(
        f"{node.url}/api/v1/customers/{customer}/portal-links",
        headers={"Authorization": f"Bearer {node.api_key}"},
        timeout=10,
    )
    minted.raise_for_status()
    return str(minted.json()["url"])


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def start(node: DemoNode) -> None:
    if not _port_free(node.port):
        raise SystemExit(
            f"port {node.port} is in use; stop what uses it or run "
            "make demo DEMO_ARGS='--port-base 9101'"
        )
    # The child gets its own copy of the log file's descriptor; ours closes at once.
    with open(node.directory / "node.log", "ab") as log:
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
            stderr=log,
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


def link_ada(cafe: DemoNode, bookshop: DemoNode) -> tuple[str, str]:
    """Ada's customer ids at the café and the bookshop, linked (once) by the real flow."""

    def ada(node: DemoNode) -> str:
        found = httpx.post(
            f"{node.url}/api/v1/customers/lookup",
            json={"email": SEED_MEMBERS[0][1]},
            headers={"Authorization": f"Bearer {node.api_key}"},
            timeout=10,
        )
        found.raise_for_status()
        return str(found.json()["customer_id"])

    def token(node: DemoNode, customer: str) -> dict[str, str]:
        minted = httpx.post(
            f"{node.url}/api/v1/customers/{customer}/tokens",
            headers={"Authorization": f"Bearer {node.api_key}"},
            timeout=10,
        )
        minted.raise_for_status()
        return {"Authorization": f"Bearer {minted.json()['token']}"}

    at_cafe, at_bookshop = ada(cafe), ada(bookshop)
    marker = cafe.directory / LINKED_FILE
    if marker.exists():
        return at_cafe, at_bookshop
    for node, customer in ((cafe, at_cafe), (bookshop, at_bookshop)):
        # Linking and moving points need Ada's consent to partner transfers at both.
        httpx.put(
            f"{node.url}/api/v1/me/consents/partner_transfers",
            json={"granted": True},
            headers={**token(node, customer), "Idempotency-Key": f"demo-consent-{node.node_id}"},
            timeout=10,
        ).raise_for_status()
    code = httpx.post(
        f"{bookshop.url}/api/v1/me/link-codes",
        json={"partner": "cafe"},
        headers=token(bookshop, at_bookshop),
        timeout=10,
    )
    code.raise_for_status()
    mine = token(cafe, at_cafe)
    httpx.post(
        f"{cafe.url}/api/v1/me/links",
        json={"partner": "bookshop", **{k: code.json()[k] for k in ("link_code", "subject")}},
        headers={**mine, "Idempotency-Key": f"demo-link-{uuid.uuid4().hex}"},
        timeout=10,
    ).raise_for_status()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        links = httpx.get(f"{cafe.url}/api/v1/me/links", headers=mine, timeout=10).json()
        if [link["status"] for link in links["items"]] == ["active"]:
            marker.write_text("linked\n")
            return at_cafe, at_bookshop
        time.sleep(0.2)
    raise SystemExit("the café and the bookshop did not link Ada's accounts; see node.log")


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
        print("  signing the consortium manifest ...", flush=True)
        federate(nodes, root)
        for node in nodes:
            start(node)
        for node in nodes:
            wait_ready(node)
            seed(node)
        cafe, bookshop = nodes[0], nodes[1]
        print("  linking Ada's café and bookshop accounts ...", flush=True)
        at_cafe, at_bookshop = link_ada(cafe, bookshop)
        print("\nThree nodes are running:\n", flush=True)
        print(f"  {'node':10} {'url':24} operator API key")
        for node in nodes:
            print(f"  {node.node_id:10} {node.url:24} {node.api_key}")
        print(
            f"\nReady customer: Ada Lovelace ({SEED_MEMBERS[0][1]}), linked at café and bookshop"
            f"\n  café id      {at_cafe}\n  bookshop id  {at_bookshop}"
            "\n  Mint her a token at the café (POST /api/v1/customers/<id>/tokens) and move"
            '\n  points: POST /api/v1/me/transfers {"partner": "bookshop", "points": 500}',
            flush=True,
        )
        print("\nAdmin UI (staff sign-in; demo passwords, printed on purpose):\n", flush=True)
        for node in nodes:
            logins = "  ".join(f"{user} {password}" for user, password in node.staff.values())
            print(f"  staff {node.node_id:10} {node.url}/admin/  {logins}")
        print(
            f"\nAda's member portal at the café (one-time link, valid for minutes):\n"
            f"  {portal_link(cafe, at_cafe)}\n"
            "  (mint another: POST /api/v1/customers/<id>/portal-links)",
            flush=True,
        )
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
