"""An auditor opens every page its menu offers, in real Chromium, and can submit nothing.

The menu comes from the one permission table (admin_ui/permissions.py), so
this walks whatever pages exist: a page added for auditors later is walked
too. Each page must answer, hold no form that posts (the header's sign-out
aside) and pass the accessibility check.
"""

from __future__ import annotations

from typing import Any

import pytest

from admin_ui.permissions import PERMISSIONS
from tests.admin_ui.browser import LiveNode, axe_violations, sign_in_as_new

pytestmark = pytest.mark.browser


def test_an_auditor_opens_every_page_of_its_menu_and_submits_nothing(
    page: Any, live_node: LiveNode
) -> None:
    assert all(action.endswith(".view") for action in PERMISSIONS["auditor"])
    sign_in_as_new(page, live_node, "auditor", "walking-auditor")
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)

    menu = page.get_by_role("navigation", name="Main").get_by_role("link")
    targets = [str(menu.nth(i).get_attribute("href")) for i in range(menu.count())]
    # The operator's and the privacy officer's read-only pages are all there.
    for expected in ("/admin/program", "/admin/partners", "/admin/settlement", "/admin/apikeys"):
        assert any(target.startswith(expected) for target in targets), (expected, targets)
    assert not any(target.startswith("/admin/customers") for target in targets)
    walked = 0
    for target in targets:
        answer = page.goto(target)
        assert answer is not None and answer.status == 200, target
        forms = page.locator("main form[method=post]")
        assert forms.count() == 0, f"{target} offers an auditor a form that posts"
        assert axe_violations(page) == [], target
        walked += 1
    assert walked >= 10
    # A page the menu does not offer is refused, not merely hidden.
    refused = page.goto("/admin/customers")
    assert refused is not None and refused.status == 403
    assert posts == []
