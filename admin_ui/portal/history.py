"""The portal's full history: the member's points, newest first, a page at a time
(node.services.points.customer_history with its cursor), dates and numbers
formatted for the member's language."""

from __future__ import annotations

from typing import Any

from admin_ui.pages import Page, PageCall, View
from admin_ui.portal.home import history_rows
from node.services import points

#: Rows per page.
PAGE_SIZE = 25


def history_context(
    items: list[dict[str, Any]], *, next_cursor: str | None, first_page: bool
) -> dict[str, Any]:
    """One page of history (items as customer_history gives them)."""
    return {
        "history": history_rows(items),
        "next_cursor": next_cursor,
        "first_page": first_page,
    }


async def history_page(call: PageCall) -> View:
    assert call.customer_id is not None
    cursor = call.request.query_params.get("before", "")[:40] or None
    found = await call.run(
        points.customer_history,
        call.node.db,
        customer_id=call.customer_id,
        limit=PAGE_SIZE,
        cursor=cursor,
    )
    return View(history_context(found.items, next_cursor=found.next_cursor, first_page=not cursor))


PAGES = [
    Page("/history", "portal_history", history_page, auth="member", template="portal/history.html")
]
