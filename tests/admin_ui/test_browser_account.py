"""My account in real headless Chromium (see tests/admin_ui/browser.py): a staff
member sets up a TOTP second factor with a code computed here, then signs in
with a code. The user is the test's own (the live node's users are shared)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyotp
import pytest

from node.secrets import NodeSecrets
from node.services import staff
from tests.admin_ui.browser import LiveNode, axe_violations, sign_in

pytestmark = pytest.mark.browser
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "img"
PASSWORD = "totp operator password"


def test_a_staff_member_sets_up_a_second_factor_and_signs_in_with_it(
    page: Any, live_node: LiveNode
) -> None:
    staff.create_user(
        live_node.db,
        node_secrets=NodeSecrets.generate(),  # seals nothing: no second factor yet
        username="totp-operator",
        display_name="Tove",
        role="operator",
        password=PASSWORD,
        totp=False,
        now=datetime.now(UTC),
    )
    sign_in(page, "totp_operator", PASSWORD)
    page.wait_for_url("**/admin/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My account").click()
    page.wait_for_url("**/admin/account")
    assert page.locator("#totp-state").inner_text() == "off"
    assert axe_violations(page) == []

    page.get_by_role("button", name="Set up a second factor").click()
    page.wait_for_url("**/admin/account/totp")
    secret = page.locator("#totp-secret").inner_text()
    assert page.get_by_role("img", name="QR code of the set-up link").is_visible()
    assert axe_violations(page) == []
    if os.environ.get("KONSORT_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.set_viewport_size({"width": 1280, "height": 900})
        page.locator("#totp-secret").scroll_into_view_if_needed()
        page.screenshot(path=str(SCREENSHOTS / "account.png"), full_page=False)
    page.get_by_label("Code from the app").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on the second factor").click()
    page.wait_for_url("**/admin/account?done=totp")
    assert "Your second factor is on." in page.get_by_role("status").inner_text()
    assert page.locator("#totp-state").inner_text() == "on"
    assert axe_violations(page) == []

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/admin/login")
    page.get_by_label("Username").fill("totp-operator")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Code from your authenticator app").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/admin/")
    assert page.get_by_role("heading", name="Welcome, Tove").is_visible()
