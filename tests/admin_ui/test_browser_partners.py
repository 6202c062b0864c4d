"""The operator's partners and settlement journey in real headless Chromium, on
the demo's café and bookshop (real processes, see test_browser_portal.py): with
the bookshop down, a transfer waits in the café's outbox; the operator sees the
consortium, sends the message again, and sends a settlement statement."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from node import demo
from tests.admin_ui.browser import axe_violations
from tests.admin_ui.test_browser_portal import Linked, linked  # noqa: F401

pytestmark = pytest.mark.browser
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "img"


@pytest.fixture
def operator_page(chromium: Any, linked: Linked) -> Iterator[Any]:  # noqa: F811
    context = chromium.new_context(base_url=linked.cafe.url, locale="en-GB")
    tab = context.new_page()
    username, password = linked.cafe.staff["operator"]
    tab.goto("/admin/login")
    tab.get_by_label("Username").fill(username)
    tab.get_by_label("Password").fill(password)
    tab.get_by_role("button", name="Sign in").click()
    tab.wait_for_url("**/admin/")
    yield tab
    context.close()


def queue_a_transfer(linked: Linked) -> None:  # noqa: F811
    """Ada moves 100 café points to the bookshop, which is down: the message waits."""
    cafe = linked.cafe
    operator = {"Authorization": f"Bearer {cafe.api_key}"}
    minted = httpx.post(
        f"{cafe.url}/api/v1/customers/{linked.ada_cafe}/tokens", headers=operator, timeout=10
    )
    minted.raise_for_status()
    moved = httpx.post(
        f"{cafe.url}/api/v1/me/transfers",
        json={"partner": "bookshop", "points": 100},
        headers={
            "Authorization": f"Bearer {minted.json()['token']}",
            "Idempotency-Key": str(uuid.uuid4()),
        },
        timeout=10,
    )
    assert moved.status_code == 202, moved.text


def test_operator_sees_partners_sends_a_message_again_and_a_statement(
    operator_page: Any,
    linked: Linked,  # noqa: F811
) -> None:
    demo.stop([linked.bookshop])
    queue_a_transfer(linked)
    page = operator_page
    main = page.get_by_role("navigation", name="Main")
    main.get_by_role("link", name="Partners").click()
    page.wait_for_url("**/admin/partners")
    assert page.get_by_role("heading", name="Partners", level=1).is_visible()
    members = page.get_by_role("table", name="Members and their keys")
    assert "bookshop" in members.inner_text() and "cafe" in members.inner_text()
    assert "signing" in page.get_by_role("region", name="This node's signing keys").inner_text()
    assert axe_violations(page) == []
    if os.environ.get("KONSORT_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.set_viewport_size({"width": 1280, "height": 900})
        page.screenshot(path=str(SCREENSHOTS / "partners.png"), full_page=False)

    page.get_by_role("link", name="Messages waiting for an answer").click()
    page.wait_for_url("**/admin/partners/outbox")
    assert page.get_by_role("heading", name="bookshop").is_visible()
    assert axe_violations(page) == []
    page.get_by_role("button", name=re.compile(r"^Send \S+ again now$")).first.click()
    page.wait_for_url("**/admin/partners/outbox?done=retried")
    assert page.get_by_role("status").inner_text() == (
        "The message goes out on the next delivery round."
    )

    main.get_by_role("link", name="Settlement").click()
    page.wait_for_url("**/admin/settlement")
    assert axe_violations(page) == []
    today = datetime.now(UTC).date()
    page.get_by_label("Partner").select_option("bookshop")
    page.get_by_label("First day").fill((today - timedelta(days=1)).isoformat())
    page.get_by_label("Day after the last").fill(today.isoformat())
    page.get_by_label("Send before the seven days are over").check()
    page.get_by_role("button", name="Send the statement").click()
    page.wait_for_url("**/admin/settlement/periods/*")
    assert page.get_by_role("heading", name="Settlement with bookshop").is_visible()
    assert "sent, awaiting the answer" in page.locator("main").inner_text()
    assert axe_violations(page) == []
    if os.environ.get("KONSORT_SCREENSHOTS"):
        page.screenshot(path=str(SCREENSHOTS / "settlement.png"), full_page=False)
    main.get_by_role("link", name="Settlement").click()
    page.wait_for_url("**/admin/settlement")
    assert page.get_by_role("table", name="Periods, newest first").is_visible()
