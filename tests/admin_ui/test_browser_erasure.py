"""The three-node erasure journey in real headless Chromium (issue 10): a privacy
officer approves an erasure and sees the bookshop's and the charity's receipts
arrive.

Three real nodes (tests/admin_ui/live_consortium.py). The member is linked from
the café with the bookshop and the charity through the real link flow and asks
the café for erasure with their own token. The charity is down when the officer
approves: the bookshop's receipt arrives, the charity's notice waits in the
café's outbox, which retries until the charity is started again, and then its
receipt arrives too. The page is reloaded in a bounded loop until it shows them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.admin_ui.browser import axe_violations, sign_in
from tests.admin_ui.live_consortium import (
    LiveConsortium,
    consortium,
    enrol,
    idempotent,
    links,
    member,
    notices,
    operator,
    start_link,
)
from tests.admin_ui.test_browser_portal import wait_until

__all__ = ["consortium"]  # the fixture
pytestmark = pytest.mark.browser
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "img"


def receipt_states(page: Any) -> dict[str, str]:
    """Partner node id → state, as the request page's receipts table shows them now
    (a partner is shown by its display name, its node id beside it in brackets)."""
    table = page.get_by_role("table", name="Each linked partner's receipt")
    if table.count() == 0:
        return {}
    found = {}
    for row in table.locator("tbody tr").all():
        cells = row.locator("td").all_inner_texts()
        shown = cells[0].strip()
        node_id = shown.rsplit("(", 1)[1].rstrip(")") if shown.endswith(")") else shown
        found[node_id] = cells[1]
    return found


def reload_until(page: Any, wanted: dict[str, str], seconds: float = 60.0) -> bool:
    def shown() -> bool:
        page.reload()
        return receipt_states(page) == wanted

    return wait_until(shown, seconds)


def test_a_privacy_officer_approves_an_erasure_and_sees_the_partners_receipts_arrive(
    chromium: Any, consortium: LiveConsortium
) -> None:
    cafe, bookshop, charity = consortium.cafe, consortium.bookshop, consortium.charity
    ids = {
        node.node_id: enrol(node, "Erin Erasmussen", "erin@example.org")
        for node in consortium.nodes
    }
    start_link(cafe, ids["cafe"], bookshop, ids["bookshop"])
    start_link(cafe, ids["cafe"], charity, ids["charity"])
    assert wait_until(
        lambda: links(cafe, ids["cafe"]) == {"bookshop": "active", "charity": "active"}
    )
    assert links(bookshop, ids["bookshop"]) == {"cafe": "active"}
    assert links(charity, ids["charity"]) == {"cafe": "active"}

    # Erin asks the café to erase her data, with her own token (identity verified by it).
    filed = httpx.post(
        f"{cafe.url}/api/v1/me/requests",
        json={"type": "erasure"},
        headers=idempotent(member(cafe, ids["cafe"])),
        timeout=10,
    )
    assert filed.status_code == 201, filed.text
    request_id = filed.json()["id"]

    context = chromium.new_context(base_url=cafe.url, locale="en-GB")
    page = context.new_page()
    try:
        sign_in(page, "privacy_officer", cafe.staff["privacy_officer"][1])
        page.wait_for_url("**/admin/")
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Requests").click()
        page.wait_for_url("**/admin/privacy/requests")
        page.get_by_role("link", name=request_id).click()
        page.wait_for_url(f"**/admin/privacy/requests/{request_id}")
        facts = page.locator("dl.facts").inner_text()
        assert "erasure" in facts and "identity verified" in facts
        assert "filed with the member's own token" in page.locator("ol.history").inner_text()
        assert page.get_by_role("heading", name="Verify identity").count() == 0
        assert axe_violations(page) == []

        # The charity is down when the officer approves.
        consortium.stop(charity)
        page.get_by_role("button", name="Approve", exact=True).click()
        page.wait_for_url("**?done=approve")
        assert page.get_by_role("status").inner_text() == "Done."
        assert "done" in page.locator("dl.facts").inner_text()
        assert reload_until(page, {"bookshop": "receipt in", "charity": "waiting for the receipt"})
        assert wait_until(lambda: notices(cafe, request_id)["charity"]["attempts"] >= 2)
        assert notices(cafe, request_id)["charity"]["last_error"] is not None
        assert page.get_by_role(
            "button", name="Deliver the notice to Red Barnet Demo now"
        ).is_visible()

        consortium.start(charity)
        # The outbox's next retry, after a back-off that grew while the charity was down
        # (full jitter, doubling from 1 s; a slow start-up makes it longer).
        assert reload_until(page, {"bookshop": "receipt in", "charity": "receipt in"}, 300)
        table = page.get_by_role("table", name="Each linked partner's receipt")
        for row in table.locator("tbody tr").all_inner_texts():
            assert "erased: link" in row and "kept: " in row
        assert page.get_by_role("button", name="Deliver now").count() == 0
        assert axe_violations(page) == []
        if os.environ.get("KONSORT_SCREENSHOTS"):
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.set_viewport_size({"width": 1280, "height": 900})
            page.screenshot(path=str(SCREENSHOTS / "erasure-receipts.png"), full_page=False)
    finally:
        context.close()

    # The end state, through the APIs.
    gone = httpx.get(
        f"{cafe.url}/api/v1/customers/{ids['cafe']}/profile",
        headers={**operator(cafe), "Konsort-Purpose": "customer_service"},
        timeout=10,
    )
    assert gone.status_code == 410
    assert gone.json()["error"]["code"] == "customer_erased"
    looked_up = httpx.post(
        f"{cafe.url}/api/v1/customers/lookup",
        json={"email": "erin@example.org"},
        headers=operator(cafe),
        timeout=10,
    )
    assert looked_up.status_code == 404
    assert links(bookshop, ids["bookshop"]) == {}
    assert links(charity, ids["charity"]) == {}
    for partner, notice in notices(cafe, request_id).items():
        assert notice["receipt"]["outcome"] == "accepted", partner
        receipt = httpx.get(
            f"{cafe.url}/api/v1/privacy/notices/{notice['id']}/receipt",
            headers=operator(cafe),
            timeout=10,
        )
        assert receipt.status_code == 200
        assert receipt.headers["content-type"].startswith("application/jose")
