"""The browser-test harness: a real node on a loopback port and headless Chromium.

One node (uvicorn in a server thread, SQLite, the system clock) per test
session and one browser per test module; every test gets a fresh browser context (no
cookies) and page. The Debian Chromium at /usr/bin/chromium is driven by
Playwright; no browser is ever downloaded. Without Chromium, Playwright or
axe-core the tests skip with the reason, except under CI=true, where they
fail.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from node.app import create_app
from node.db import Database
from node.migrate import upgrade
from node.secrets import NodeSecrets
from node.services import staff
from node.services.apikeys import create_api_key
from node.settings import load_settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
PASSWORDS = {
    "operator": "operator password 1",
    "privacy_officer": "privacy password 1",
    "auditor": "auditor password 1",
}


def unavailable(reason: str) -> None:
    """Skip on a developer machine, fail in CI."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"browser tests cannot run in CI: {reason}")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveNode:
    url: str
    db: Database
    api_key: str
    #: The customer with data in the dashboard and a portal account.
    customer_id: str


def _seed(node: LiveNode) -> None:
    import httpx

    auth = {"Authorization": f"Bearer {node.api_key}"}
    for index in range(3):
        created = httpx.post(
            f"{node.url}/api/v1/customers",
            json={"name": f"Member {index}", "email": f"m{index}@example.org"},
            headers={**auth, "Idempotency-Key": str(uuid.uuid4())},
        )
        created.raise_for_status()
        customer = created.json()["id"]
        httpx.post(
            f"{node.url}/api/v1/customers/{customer}/purchases",
            json={"amount": 25_000 * (index + 1)},
            headers={**auth, "Idempotency-Key": str(uuid.uuid4())},
        ).raise_for_status()
        node.customer_id = customer


@pytest.fixture(scope="session")
def live_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveNode]:
    directory = tmp_path_factory.mktemp("live-node")
    port = free_port()
    settings = load_settings(
        environ={},
        node_id="cafe",
        display_name="Café Aroma",
        data_dir=directory,
        port=port,
        expiry_interval_seconds=0,
        program_jobs_interval_seconds=0,
        webhook_interval_seconds=0,
        federation_interval_seconds=0,
        retention_interval_seconds=0,
        settlement_interval_seconds=0,
    )
    node_secrets = NodeSecrets.generate()
    db = Database(settings.resolved_database_url)
    upgrade(db.engine)
    now = datetime.now(UTC)
    for role, password in PASSWORDS.items():
        staff.create_user(
            db,
            node_secrets=node_secrets,
            username=role.replace("_", "-"),
            display_name=role.replace("_", " ").title(),
            role=role,
            password=password,
            totp=False,
            now=now,
        )
    api_key = create_api_key(db, name="shop", now=now).token
    app = create_app(settings, secrets=node_secrets, database=db, run_jobs=False)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:  # start-up, not a timed assertion
        if not thread.is_alive():
            pytest.fail("the live node did not start")
        time.sleep(0.02)
    node = LiveNode(f"http://127.0.0.1:{port}", db, api_key, "")
    _seed(node)
    yield node
    server.should_exit = True
    thread.join()
    db.dispose()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """One browser per test module. Playwright's sync API keeps an event loop
    running in this thread while it is open, which would break asyncio.run()
    in the rest of the suite; closing it after the module ends that."""
    if not CHROMIUM.exists():
        unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is not installed (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Any, live_node: LiveNode) -> Iterator[Any]:
    context = chromium.new_context(base_url=live_node.url, locale="en-GB")
    tab = context.new_page()
    yield tab
    context.close()


def sign_in_as_new(page: Any, live_node: LiveNode, role: str, label: str) -> str:
    """Create a staff user of ``role`` of its own (the shared ones get throttled on
    purpose by test_browser.py) and sign in as it; returns the username."""
    username, password = f"{label}-{uuid.uuid4().hex[:8]}", f"{label} password 1"
    staff.create_user(
        live_node.db,
        node_secrets=NodeSecrets.generate(),  # used only for a second factor
        username=username,
        display_name=label.replace("-", " ").title(),
        role=role,
        password=password,
        totp=False,
        now=datetime.now(UTC),
    )
    page.goto("/admin/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/admin/")
    return username


def sign_in(page: Any, role: str, password: str | None = None) -> None:
    page.goto("/admin/login")
    page.get_by_label("Username").fill(role.replace("_", "-"))
    page.get_by_label("Password").fill(password or PASSWORDS[role])
    page.get_by_role("button", name="Sign in").click()


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations on the current page."""
    if not AXE.exists():
        unavailable(f"axe-core is missing at {AXE} (npm ci --prefix tests/admin_ui)")
    page.evaluate(AXE.read_text(encoding="utf-8"))
    results = page.evaluate("async () => await axe.run(document)")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]]}
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]
