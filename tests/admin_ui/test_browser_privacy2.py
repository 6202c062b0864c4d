"""The privacy officer's consent, retention and exports journey in real headless
Chromium (see tests/admin_ui/browser.py): new wording for a purpose, a retention
dry run, and an audited export download."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.admin_ui.browser import LiveNode, axe_violations, sign_in

pytestmark = pytest.mark.browser
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "img"


def test_privacy_officer_edits_wording_runs_a_dry_run_and_downloads_an_export(
    page: Any, live_node: LiveNode
) -> None:
    sign_in(page, "privacy_officer")
    page.wait_for_url("**/admin/")
    main = page.get_by_role("navigation", name="Main")
    main.get_by_role("link", name="Consent").click()
    page.wait_for_url("**/admin/privacy/consent")
    assert page.get_by_role("heading", name="Consent", level=1).is_visible()
    assert page.get_by_role("table", name="Wording versions of marketing").is_visible()
    assert axe_violations(page) == []
    if os.environ.get("KONSORT_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.set_viewport_size({"width": 1280, "height": 900})
        page.screenshot(path=str(SCREENSHOTS / "admin-privacy-consent.png"), full_page=False)

    page.get_by_role("link", name="Edit the wording of marketing").click()
    page.wait_for_url("**/admin/privacy/consent/purposes/marketing")
    assert axe_violations(page) == []
    page.get_by_label("Text").fill("We send news about the program twice a month.")
    page.get_by_role("button", name="Publish as a new version").click()
    page.wait_for_url("**/admin/privacy/consent?done=marketing")
    assert page.get_by_role("status").inner_text() == "New wording published."

    page.get_by_label("Customer id").fill(live_node.customer_id)
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**/admin/privacy/consent/history?customer=*")
    assert axe_violations(page) == []

    main.get_by_role("link", name="Retention").click()
    page.wait_for_url("**/admin/privacy/retention")
    assert axe_violations(page) == []
    page.get_by_role("button", name="Dry run: count what is due").click()
    page.wait_for_url("**/admin/privacy/retention/jobs/*")  # a background job's status page
    result = page.get_by_role("link", name="See the result")
    result.wait_for()  # the page refreshes itself until the job is done
    assert axe_violations(page) == []
    result.click()
    page.wait_for_url("**/admin/privacy/retention/runs/*")
    assert page.get_by_role("table", name="Per category").is_visible()
    assert "Nothing was deleted" in page.locator("main").inner_text()
    assert axe_violations(page) == []

    main.get_by_role("link", name="Exports").click()
    page.wait_for_url("**/admin/privacy/exports")
    assert axe_violations(page) == []
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download all consent records").click()
    download = download_info.value
    assert download.suggested_filename.startswith("consent-records-")
    text = Path(download.path()).read_text()
    assert text.startswith("record_id,customer_id,")

    main.get_by_role("link", name="Audit log").click()
    page.wait_for_url("**/admin/privacy/audit")
    page.get_by_label("Action").select_option("report.download")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**action=report.download**")
    rows = page.get_by_role("table", name="Entries, newest first").locator("tbody tr")
    assert "privacy_export_consent" in rows.first.inner_text()
