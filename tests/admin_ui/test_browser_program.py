"""The operator's program journey in real headless Chromium (see
tests/admin_ui/browser.py): change the earn rate on the program pages, and the
next purchase through the operator API earns at the new rate, which the
member then sees in the portal."""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.admin_ui.browser import LiveNode, axe_violations, sign_in

pytestmark = pytest.mark.browser
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "img"


def _set_earn_rate(page: Any, rate: int) -> int:
    """Change the earn rate on the edit page; the saved version's number."""
    page.get_by_role("navigation", name="Program pages").get_by_role(
        "link", name="Change the program"
    ).click()
    page.wait_for_url("**/admin/program/edit")
    page.get_by_label("Points per currency unit").fill(str(rate))
    page.get_by_label("Why it changes (optional)").fill(f"earn rate {rate}")
    page.get_by_role("button", name="Save as a new version").click()
    page.wait_for_url("**/admin/program?saved=*")
    saved = re.search(r"saved=(\d+)", page.url)
    assert saved is not None
    return int(saved.group(1))


def _purchase(live_node: LiveNode, amount: int) -> tuple[str, dict[str, Any]]:
    auth = {"Authorization": f"Bearer {live_node.api_key}"}
    created = httpx.post(
        f"{live_node.url}/api/v1/customers",
        json={"name": "Rate Tester", "email": f"{uuid.uuid4().hex}@example.org"},
        headers={**auth, "Idempotency-Key": str(uuid.uuid4())},
    )
    created.raise_for_status()
    customer = str(created.json()["id"])
    bought = httpx.post(
        f"{live_node.url}/api/v1/customers/{customer}/purchases",
        json={"amount": amount},
        headers={**auth, "Idempotency-Key": str(uuid.uuid4())},
    )
    bought.raise_for_status()
    return customer, bought.json()


def test_an_operator_changes_the_earn_rate_and_the_next_purchase_earns_at_it(
    page: Any, chromium: Any, live_node: LiveNode
) -> None:
    sign_in(page, "operator")
    page.wait_for_url("**/admin/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Program").click()
    page.wait_for_url("**/admin/program")
    assert page.get_by_role("heading", name="Program", level=1).is_visible()
    old_rate = int(page.locator("#earn-rate").inner_text().replace(",", ""))
    assert axe_violations(page) == []
    if os.environ.get("KONSORT_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.set_viewport_size({"width": 1280, "height": 900})
        page.screenshot(path=str(SCREENSHOTS / "program.png"), full_page=False)

    new_rate = old_rate + 4
    page.get_by_role("navigation", name="Program pages").get_by_role(
        "link", name="Change the program"
    ).click()
    page.wait_for_url("**/admin/program/edit")
    assert axe_violations(page) == []
    page.get_by_label("Points per currency unit").fill("many")
    page.get_by_role("button", name="Save as a new version").click()
    field = page.get_by_label("Points per currency unit")
    assert field.input_value() == "many" and field.get_attribute("aria-invalid") == "true"
    assert page.locator("#error-earn\\.points_per_unit").inner_text() == (
        "Enter a whole number, 0 or more."
    )
    assert axe_violations(page) == []
    page.get_by_role("navigation", name="Program pages").get_by_role(
        "link", name="Program in force"
    ).click()
    version = _set_earn_rate(page, new_rate)
    saved = page.get_by_role("status").inner_text()
    assert saved == f"Version {version} saved; it is in force now."
    assert page.locator("#earn-rate").inner_text() == str(new_rate)

    customer, answer = _purchase(live_node, 10_000)  # 100.00 DKK
    assert answer["earning"]["program_version"] == version
    assert answer["earning"]["points"] == new_rate * 100

    page.get_by_role("navigation", name="Program pages").get_by_role(
        "link", name="Version history"
    ).click()
    page.wait_for_url("**/admin/program/history")
    assert "operator (staff:" in page.get_by_role("table").inner_text()
    page.get_by_role("link", name=f"Version {version}", exact=True).click()
    page.wait_for_url(f"**/admin/program/history/{version}")
    row = page.get_by_role("row", name=re.compile("earn.points_per_unit"))
    assert row.get_by_role("cell").all_inner_texts() == [str(old_rate), str(new_rate)]
    assert axe_violations(page) == []

    member = chromium.new_context(base_url=live_node.url, locale="en-GB")
    try:
        tab = member.new_page()
        minted = httpx.post(
            f"{live_node.url}/api/v1/customers/{customer}/portal-links",
            headers={"Authorization": f"Bearer {live_node.api_key}"},
        )
        tab.goto(minted.json()["url"])
        tab.get_by_role("button", name="Continue").click()
        tab.wait_for_url("**/me/")
        assert tab.locator("#points").inner_text() == f"{new_rate * 100:,}"
    finally:
        member.close()

    page.get_by_role("navigation", name="Program pages").get_by_role(
        "link", name="Program in force"
    ).click()
    _set_earn_rate(page, old_rate)  # the live node is shared: leave its rate as it was
