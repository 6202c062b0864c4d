"""Journeys in real headless Chromium against a real node (see tests/admin_ui/browser.py)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.admin_ui.browser import LiveNode, axe_violations, sign_in

pytestmark = pytest.mark.browser
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "img"


def test_operator_signs_in_and_sees_the_dashboard_charts(page: Any, live_node: LiveNode) -> None:
    sign_in(page, "operator")
    page.get_by_role("navigation").get_by_role("link", name="Dashboard").click()
    page.wait_for_url("**/admin/dashboard")
    assert page.get_by_role("heading", name="Dashboard", level=1).is_visible()
    charts = page.locator("section.kpi img")
    assert charts.count() == 7
    # Every chart image loaded (naturalWidth > 0 once the SVG is decoded).
    for index in range(7):
        charts.nth(index).scroll_into_view_if_needed()
        assert charts.nth(index).evaluate("img => img.complete && img.naturalWidth > 0")
    assert page.get_by_role("table", name="Enrolments").is_visible()
    assert axe_violations(page) == []
    if os.environ.get("KONSORT_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.set_viewport_size({"width": 1280, "height": 900})
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(SCREENSHOTS / "admin-dashboard.png"), full_page=False)


def test_wrong_password_is_refused_then_throttled(page: Any) -> None:
    for _ in range(5):
        sign_in(page, "auditor", password="not the password")
        assert page.get_by_role("alert").inner_text() == "Wrong username, password or code."
    sign_in(page, "auditor")
    assert "Too many failed sign-ins" in page.get_by_role("alert").inner_text()
    assert page.get_by_label("Username").input_value() == "auditor"
    assert axe_violations(page) == []


def test_a_forged_cross_site_post_is_refused(page: Any, live_node: LiveNode) -> None:
    sign_in(page, "operator")
    page.wait_for_url("**/admin/")
    # A page on another site (served by the browser's router: no network) posts a form.
    attack = f"""<!doctype html><html lang="en"><title>Win a prize</title><body>
        <form method="post" action="{live_node.url}/admin/users">
          <input name="username" value="mallory"><input name="role" value="operator">
          <input name="password" value="mallory password 1">
        </form><script>document.forms[0].submit()</script></body></html>"""
    page.route(
        "http://evil.test/**",
        lambda route: route.fulfill(body=attack, content_type="text/html"),
    )
    with page.expect_response(f"{live_node.url}/admin/users") as answer:
        page.goto("http://evil.test/prize")
    assert answer.value.status == 403
    page.wait_for_load_state()
    assert "CSRF" in page.content()
    from node.services import staff

    assert "mallory" not in [user.username for user in staff.list_users(live_node.db)]


def test_sign_out_ends_the_session(page: Any, live_node: LiveNode) -> None:
    sign_in(page, "operator")
    page.wait_for_url("**/admin/")
    cookie = next(c for c in page.context.cookies() if c["name"] == "konsort_staff")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/admin/login")
    replay = httpx.get(
        f"{live_node.url}/admin/dashboard",
        cookies={"konsort_staff": cookie["value"]},
        follow_redirects=False,
    )
    assert replay.status_code == 303 and "/admin/login" in replay.headers["location"]


def test_the_danish_ui_shows_danish(chromium: Any, live_node: LiveNode) -> None:
    context = chromium.new_context(base_url=live_node.url, locale="da-DK")
    try:
        tab = context.new_page()
        tab.goto("/admin/login")
        assert tab.get_by_role("heading", level=1).inner_text() == "Log ind"
        tab.get_by_label("Brugernavn").fill("auditor-da")
        tab.get_by_label("Sprog").select_option("nb")
        tab.get_by_role("button", name="Skift").click()
        assert tab.get_by_role("heading", level=1).inner_text() == "Logg inn"
    finally:
        context.close()


def test_a_customer_signs_in_to_the_portal_once(page: Any, live_node: LiveNode) -> None:
    minted = httpx.post(
        f"{live_node.url}/api/v1/customers/{live_node.customer_id}/portal-links",
        headers={"Authorization": f"Bearer {live_node.api_key}"},
    )
    assert minted.status_code == 201
    link = minted.json()["url"]
    page.goto(link)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/me/")
    assert page.get_by_role("heading", name="Your membership").is_visible()
    assert page.locator("#points").inner_text() != ""
    assert axe_violations(page) == []
    page.goto(link)
    page.get_by_role("button", name="Continue").click()
    assert "already used" in page.get_by_role("alert").inner_text()


def test_pages_are_usable_at_phone_width(chromium: Any, live_node: LiveNode) -> None:
    context = chromium.new_context(
        base_url=live_node.url, viewport={"width": 360, "height": 740}, locale="en"
    )
    try:
        tab = context.new_page()
        sign_in(tab, "operator")
        tab.goto("/admin/dashboard")
        overflow = tab.evaluate("document.documentElement.scrollWidth > window.innerWidth + 1")
        assert not overflow
        # Keyboard: the skip link is the first stop and leads to the content.
        tab.keyboard.press("Tab")
        assert tab.evaluate("document.activeElement.className") == "skip"
        assert axe_violations(tab) == []
    finally:
        context.close()
