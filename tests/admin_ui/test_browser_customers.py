"""The operator's customers and API keys pages in real headless Chromium (see
tests/admin_ui/browser.py): looking a customer up by email, a name holding a
``<script>`` shown as text, and making and revoking an API key."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.admin_ui.browser import LiveNode, axe_violations, sign_in

pytestmark = pytest.mark.browser
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "img"


def _screenshot(page: Any, name: str) -> None:
    if os.environ.get("KONSORT_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.set_viewport_size({"width": 1280, "height": 900})
        page.screenshot(path=str(SCREENSHOTS / name), full_page=False)


def _enrol(node: LiveNode, name: str, email: str) -> str:
    created = httpx.post(
        f"{node.url}/api/v1/customers",
        json={"name": name, "email": email},
        headers={"Authorization": f"Bearer {node.api_key}", "Idempotency-Key": str(uuid.uuid4())},
    )
    created.raise_for_status()
    return str(created.json()["id"])


def test_an_operator_looks_up_a_customer_by_email(page: Any, live_node: LiveNode) -> None:
    email = f"grace-{uuid.uuid4().hex[:8]}@example.org"
    customer = _enrol(live_node, "Grace Hopper", email)
    sign_in(page, "operator")
    page.wait_for_url("**/admin/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Customers").click()
    page.wait_for_url("**/admin/customers")
    assert axe_violations(page) == []
    page.get_by_label("Member number, customer id or email").fill(email.upper())
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**/admin/customers/search")
    assert page.get_by_role("heading", name="Found by email").is_visible()
    assert "Grace Hopper" in page.locator("main").inner_text()
    assert axe_violations(page) == []
    _screenshot(page, "customers.png")

    page.get_by_role("link", name="Open the customer's page").click()
    page.wait_for_url(f"**/admin/customers/{customer}")
    assert page.get_by_role("heading", name="Grace Hopper", level=1).is_visible()
    assert page.locator("#points").inner_text() == "0"
    page.get_by_label("Points (negative to take away)").fill("250")
    page.get_by_label("Reason").fill("Welcome gift at the opening")
    page.get_by_role("button", name="Post the adjustment").click()
    page.wait_for_url("**?done=adjusted")
    assert page.get_by_role("status").inner_text() == "The adjustment is posted."
    assert page.locator("#points").inner_text() == "250"
    assert page.get_by_role("table", name="Transactions, newest first").is_visible()
    assert axe_violations(page) == []
    _screenshot(page, "customer.png")

    page.get_by_label("Points (negative to take away)").fill("-1000")
    page.get_by_label("Reason").fill("Too much")
    page.get_by_role("button", name="Post the adjustment").click()
    error = page.locator("#error-points")
    assert error.inner_text() == "The balance does not cover this many points."
    assert page.get_by_label("Points (negative to take away)").input_value() == "-1000"
    assert page.locator("#points").inner_text() == "250"


def test_a_script_in_a_customers_name_is_shown_as_text(page: Any, live_node: LiveNode) -> None:
    name = "<script>window.konsortPwned = 1; alert('pwned')</script> Eve"
    customer = _enrol(live_node, name, f"eve-{uuid.uuid4().hex[:8]}@example.org")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_in(page, "operator")
    page.wait_for_url("**/admin/")
    page.goto(f"/admin/customers/{customer}")
    heading = page.get_by_role("heading", level=1)
    assert heading.inner_text() == name
    assert page.locator("#customer-name").inner_text() == name
    assert page.evaluate("window.konsortPwned === undefined")
    assert dialogs == []


def test_an_operator_makes_an_api_key_sees_it_once_and_revokes_it(
    page: Any, live_node: LiveNode
) -> None:
    sign_in(page, "operator")
    page.wait_for_url("**/admin/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="API keys").click()
    page.wait_for_url("**/admin/apikeys")
    page.get_by_label("Name (where the key is used, e.g. the till)").fill("Till 2")
    page.get_by_role("button", name="Create the key").click()
    token = page.get_by_label("API key").input_value()
    assert token.startswith("ksk_key_")
    assert axe_violations(page) == []
    auth = {"Authorization": f"Bearer {token}"}
    found = httpx.get(f"{live_node.url}/api/v1/customers/{live_node.customer_id}", headers=auth)
    assert found.status_code == 200
    page.get_by_role("link", name="Back to the API keys").click()
    page.wait_for_url("**/admin/apikeys")
    main = page.locator("main").inner_text()
    assert token not in main and "_".join(token.split("_", 3)[:3]) + "_" in main
    assert axe_violations(page) == []
    _screenshot(page, "apikeys.png")
    page.get_by_role("button", name="Revoke Till 2").click()
    page.wait_for_url("**/admin/apikeys?done=revoked")
    assert page.get_by_role("status").inner_text() == "The key is revoked."
    refused = httpx.get(f"{live_node.url}/api/v1/customers/{live_node.customer_id}", headers=auth)
    assert refused.status_code == 401
