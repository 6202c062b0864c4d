"""The privacy officer's journeys in real headless Chromium (see tests/admin_ui/browser.py):
approving a request and downloading its access export, and an auditor who reads
every privacy page it may and submits nothing."""

from __future__ import annotations

import io
import json
import os
import uuid
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.admin_ui.browser import LiveNode, axe_violations, sign_in, sign_in_as_new

pytestmark = pytest.mark.browser
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "img"


def _file_request(node: LiveNode, type: str = "access") -> str:
    filed = httpx.post(
        f"{node.url}/api/v1/privacy/requests",
        json={"customer_id": node.customer_id, "type": type, "channel": "in_person"},
        headers={"Authorization": f"Bearer {node.api_key}", "Idempotency-Key": str(uuid.uuid4())},
    )
    filed.raise_for_status()
    return str(filed.json()["id"])


def test_privacy_officer_approves_a_request_and_downloads_the_export(
    page: Any, live_node: LiveNode
) -> None:
    request_id = _file_request(live_node)
    sign_in(page, "privacy_officer")
    page.wait_for_url("**/admin/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Requests").click()
    page.wait_for_url("**/admin/privacy/requests")
    assert page.get_by_role("heading", name="Data-subject requests", level=1).is_visible()
    assert axe_violations(page) == []
    page.get_by_role("link", name=request_id).click()
    page.wait_for_url(f"**/admin/privacy/requests/{request_id}")
    assert axe_violations(page) == []
    if os.environ.get("KONSORT_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.set_viewport_size({"width": 1280, "height": 900})
        page.screenshot(path=str(SCREENSHOTS / "admin-privacy-request.png"), full_page=False)

    page.get_by_label("How").select_option("in_person_document")
    page.get_by_role("button", name="Verify", exact=True).click()
    page.wait_for_url("**?done=verify")
    assert page.get_by_role("status").inner_text() == "Done."
    page.get_by_role("button", name="Approve", exact=True).click()
    page.wait_for_url("**?done=approve")
    assert "done" in page.locator("dl.facts").inner_text()
    assert axe_violations(page) == []

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the access export (zip)").click()
    download = download_info.value
    assert download.suggested_filename.endswith(f"{request_id}.zip")
    with zipfile.ZipFile(io.BytesIO(Path(download.path()).read_bytes())) as archive:
        document = json.loads(archive.read("export.json"))
        assert "profile.csv" in archive.namelist() or len(archive.namelist()) > 1
    assert document["customer_id"] == live_node.customer_id
    assert document["request_id"] == request_id

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit log").click()
    page.wait_for_url("**/admin/privacy/audit")
    page.get_by_label("Action").select_option("export.download")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**action=export.download**")
    assert page.get_by_role("status").inner_text().startswith("The hash chain verifies")
    rows = page.get_by_role("table", name="Entries, newest first").locator("tbody tr")
    assert live_node.customer_id in rows.first.inner_text()
    assert axe_violations(page) == []
    if os.environ.get("KONSORT_SCREENSHOTS"):
        page.set_viewport_size({"width": 1280, "height": 900})
        page.screenshot(path=str(SCREENSHOTS / "admin-privacy-audit.png"), full_page=False)


def test_an_auditor_opens_every_privacy_page_and_submits_nothing(
    page: Any, live_node: LiveNode
) -> None:
    request_id = _file_request(live_node, type="erasure")
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    sign_in_as_new(page, live_node, "auditor", "privacy-auditor")
    posts.clear()  # the sign-in itself
    nav = page.get_by_role("navigation", name="Main")
    for label, path in (
        ("Requests", "/admin/privacy/requests"),
        ("Audit log", "/admin/privacy/audit"),
    ):
        nav.get_by_role("link", name=label).click()
        page.wait_for_url(f"**{path}")
        assert axe_violations(page) == []
    page.goto(f"/admin/privacy/requests/{request_id}")
    assert page.get_by_role("heading", name=f"Request {request_id}").is_visible()
    # Only the sign-out form: no verify, approve, reject, extend or deliver buttons.
    assert page.locator("main form[method=post]").count() == 0
    assert page.get_by_role("button", name="Approve").count() == 0
    assert axe_violations(page) == []
    answer = page.goto(f"/admin/privacy/requests/{request_id}/export")
    assert answer is not None and answer.status == 403
    assert posts == []
