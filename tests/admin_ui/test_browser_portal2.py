"""Member portal journeys in real headless Chromium: my data (a copy and a
deletion request, followed by their state)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.admin_ui.browser import LiveNode, axe_violations
from tests.admin_ui.test_browser_portal import linked, member_page, wait_until  # noqa: F401

pytestmark = pytest.mark.browser
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "img"


def new_member(node: LiveNode) -> str:
    created = httpx.post(
        f"{node.url}/api/v1/customers",
        json={"name": "Portal Two", "email": "p2@example.org"},
        headers={"Authorization": f"Bearer {node.api_key}", "Idempotency-Key": str(uuid.uuid4())},
        timeout=10,
    )
    created.raise_for_status()
    return str(created.json()["id"])


def test_a_member_asks_for_a_copy_and_for_deletion(chromium: Any, live_node: LiveNode) -> None:
    customer = new_member(live_node)
    minted = httpx.post(
        f"{live_node.url}/api/v1/customers/{customer}/portal-links",
        headers={"Authorization": f"Bearer {live_node.api_key}"},
        timeout=10,
    )
    minted.raise_for_status()
    context = chromium.new_context(base_url=live_node.url, locale="en-GB")
    page = context.new_page()
    try:
        page.goto(minted.json()["url"])
        page.get_by_role("button", name="Continue").click()
        page.wait_for_url("**/me/")
        page.get_by_role("link", name="My data").click()
        assert page.get_by_role("heading", name="My data", exact=True).is_visible()
        assert axe_violations(page) == []
        page.get_by_role("button", name="Ask for a copy").click()
        page.wait_for_url("**/me/data?filed=access")
        assert page.get_by_role("status").inner_text() == (
            "We have your request for a copy of your data."
        )
        page.get_by_role("button", name="Ask for deletion").click()
        # The box is not ticked: the browser refuses nothing, the page says why.
        assert page.locator("#error-confirm").inner_text().startswith("Tick the box")
        assert axe_violations(page) == []
        page.get_by_label("I want my data deleted").check()
        page.get_by_role("button", name="Ask for deletion").click()
        page.wait_for_url("**/me/data?filed=erasure")
        rows = page.locator("table tbody tr")
        assert rows.count() == 2
        assert page.get_by_role("cell", name="erasure").count() == 1
        assert page.get_by_role("cell", name="identity verified").count() == 2
        assert axe_violations(page) == []
        if os.environ.get("KONSORT_SCREENSHOTS"):
            page.set_viewport_size({"width": 390, "height": 844})
            page.screenshot(path=str(SCREENSHOTS / "portal-mydata.png"), full_page=True)
    finally:
        context.close()


def test_a_member_redeems_a_bookshop_reward_from_the_cafe(member_page: Any) -> None:  # noqa: F811
    """The demo's café and bookshop, Ada linked: her partner reward and its voucher."""
    page = member_page
    page.get_by_role("link", name="Partners").click()
    assert page.get_by_role("cell", name="linked", exact=True).count() == 1
    assert axe_violations(page) == []
    page.get_by_role("link", name="Partner rewards").click()
    assert page.get_by_role("cell", name="50 kr book voucher").is_visible()
    assert axe_violations(page) == []
    page.get_by_role("button", name="Redeem").first.click()
    page.wait_for_url("**/me/rewards?partner=bookshop&redeemed")
    assert page.get_by_role("status").inner_text() == "Your reward is on its way."

    def voucher_shown() -> bool:
        page.reload()
        return page.locator("code.voucher").count() > 0

    assert wait_until(voucher_shown)
    assert axe_violations(page) == []
    page.get_by_role("link", name="Donate").click()
    assert page.get_by_role("heading", name="Donate").is_visible()
    assert axe_violations(page) == []
