"""Member portal journeys in real headless Chromium (see tests/admin_ui/browser.py).

The transfer journeys run against two real linked nodes, a café and a
bookshop, built by the demo's own set-up code (node/demo.py) in a temporary
directory: real processes, the real link flow, real federation delivery.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from node import demo
from tests.admin_ui.browser import LiveNode, axe_violations
from tests.admin_ui.live_consortium import federated

pytestmark = pytest.mark.browser
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "img"


class Linked:
    def __init__(self, cafe: demo.DemoNode, bookshop: demo.DemoNode, ada: tuple[str, str]):
        self.cafe, self.bookshop = cafe, bookshop
        self.ada_cafe, self.ada_bookshop = ada

    def bookshop_balance(self) -> int:
        found = httpx.get(
            f"{self.bookshop.url}/api/v1/customers/{self.ada_bookshop}/balance",
            headers={"Authorization": f"Bearer {self.bookshop.api_key}"},
            timeout=10,
        )
        found.raise_for_status()
        return int(found.json()["points"])


def start(node: demo.DemoNode) -> None:
    """demo.start, closing this process's copy of the log file (the child keeps its own)."""
    with (node.directory / "node.log").open("ab") as log:
        node.process = subprocess.Popen(
            [sys.executable, "-m", "node.cli", "--data-dir", str(node.directory), "serve"]
            + ["--port", str(node.port)],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )


@pytest.fixture(scope="module")
def linked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Linked]:
    """The demo's café and bookshop, running, with Ada's accounts linked."""
    nodes = federated(tmp_path_factory.mktemp("consortium"), ("cafe", "bookshop"))
    try:
        for node in nodes:
            start(node)
        for node in nodes:
            demo.wait_ready(node)
            demo.seed(node)
        cafe, bookshop = nodes
        yield Linked(cafe, bookshop, demo.link_ada(cafe, bookshop))
    finally:
        demo.stop(nodes)


def sign_in_member(page: Any, node: demo.DemoNode, customer: str) -> None:
    page.goto(demo.portal_link(node, customer))
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/me/")


def points(page: Any) -> int:
    return int(page.locator("#points").inner_text().replace(",", ""))


@pytest.fixture
def member_page(chromium: Any, linked: Linked) -> Iterator[Any]:
    context = chromium.new_context(base_url=linked.cafe.url, locale="en-GB")
    tab = context.new_page()
    sign_in_member(tab, linked.cafe, linked.ada_cafe)
    yield tab
    context.close()


def wait_until(condition: Any, seconds: float = 60.0) -> bool:
    """Poll until ``condition()`` holds (delivery runs on the nodes' own schedule)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.25)
    return bool(condition())


def test_a_member_moves_points_from_the_cafe_to_the_bookshop(
    member_page: Any, linked: Linked
) -> None:
    page = member_page
    before_cafe, before_bookshop = points(page), linked.bookshop_balance()
    assert page.get_by_role("heading", name="History").is_visible()
    assert axe_violations(page) == []
    if os.environ.get("KONSORT_SCREENSHOTS"):
        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path=str(SCREENSHOTS / "portal-home.png"), full_page=True)
    page.get_by_role("link", name="Move points").click()
    page.get_by_label("Partner").select_option("bookshop")
    page.get_by_label("Points to move").fill("100")
    page.get_by_role("button", name="Show what I get").click()
    # Café points are worth 0.50 DKK, bookshop points 1.20 DKK: 100 buy 41.
    assert page.locator("#conversion").inner_text() == (
        "99 of your points become 41 points at Bogladen."
    )
    assert axe_violations(page) == []
    page.get_by_role("button", name="Confirm and move points").click()
    page.wait_for_url("**/me/?moved")
    assert page.get_by_role("status").inner_text() == "Your points are on their way to the partner."
    assert points(page) == before_cafe - 99
    assert wait_until(lambda: linked.bookshop_balance() == before_bookshop + 41)
    page.get_by_role("link", name="Move points").click()

    def listed_as_done() -> bool:
        page.reload()
        return page.get_by_role("cell", name="done", exact=True).count() > 0

    assert wait_until(listed_as_done)


def test_withdrawn_transfer_consent_refuses_the_next_transfer(
    member_page: Any, linked: Linked
) -> None:
    page = member_page
    before = points(page)
    page.get_by_role("link", name="Consents").click()
    section = page.locator("section.consent", has=page.locator("#state-partner_transfers"))
    assert section.locator(".state").inner_text() == "Given"
    section.get_by_role("button", name="Withdraw").click()
    assert page.locator("#state-partner_transfers").inner_text() == "Withdrawn"
    assert axe_violations(page) == []
    page.get_by_role("link", name="Move points").click()
    page.get_by_label("Points to move").fill("50")
    page.get_by_role("button", name="Show what I get").click()
    page.get_by_role("button", name="Confirm and move points").click()
    assert "needs your consent to partner transfers" in page.get_by_role("alert").inner_text()
    assert axe_violations(page) == []
    page.get_by_role("link", name="Overview").click()
    assert points(page) == before
    # Giving it back is one button, as withdrawing was.
    page.get_by_role("link", name="Consents").click()
    page.locator("section.consent", has=page.locator("#state-partner_transfers")).get_by_role(
        "button", name="Give consent"
    ).click()
    assert page.locator("#state-partner_transfers").inner_text() == "Given"


def test_the_danish_portal_shows_danish(chromium: Any, live_node: LiveNode) -> None:
    context = chromium.new_context(
        base_url=live_node.url, locale="da-DK", viewport={"width": 360, "height": 740}
    )
    try:
        tab = context.new_page()
        minted = httpx.post(
            f"{live_node.url}/api/v1/customers/{live_node.customer_id}/portal-links",
            headers={"Authorization": f"Bearer {live_node.api_key}"},
        )
        tab.goto(minted.json()["url"])
        tab.get_by_role("button", name="Fortsæt").click()
        tab.wait_for_url("**/me/")
        assert tab.get_by_role("heading", level=1).inner_text() == "Dit medlemskab"
        assert tab.get_by_role("heading", name="Historik").is_visible()
        tab.get_by_role("link", name="Flyt point").click()
        assert tab.get_by_role("heading", level=1).inner_text() == "Flyt point"
        tab.get_by_role("link", name="Samtykker").click()
        assert tab.get_by_role("heading", level=1).inner_text() == "Samtykker"
        assert not tab.evaluate("document.documentElement.scrollWidth > window.innerWidth + 1")
        assert axe_violations(tab) == []
    finally:
        context.close()
