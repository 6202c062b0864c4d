"""The program's version history: who changed it and when, and what changed.

The list shows every stored version newest first (its author, time, comment
and the dotted paths that changed); a version's page shows each changed
field with its value before and after, against the version before it
(version 1 against the node's settings, version 0). Authors are shown as
stored (``staff:<id>`` for the admin UI, the API key's name for the API),
with the staff member's username where the id is a staff user's.
"""

from __future__ import annotations

import json
from typing import Any

from admin_ui.pages import Page, PageCall, View
from node.errors import NotFound
from node.services import program as program_service
from node.services import staff
from node.services.program import ProgramChange, VersionDiff

PAGE_SIZE = 50


def shown(value: Any) -> str:
    """A program value as text: text as it is, anything else as compact JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(", ", ": "))


def author(actor: str, usernames: dict[str, str]) -> str:
    """``staff:<id>`` with the staff member's username, other actors as stored."""
    kind, _, user_id = actor.partition(":")
    if kind == "staff" and user_id in usernames:
        return f"{usernames[user_id]} ({actor})"
    return actor


def history_context(
    changes: list[ProgramChange],
    usernames: dict[str, str],
    *,
    next_before: int | None = None,
) -> dict[str, Any]:
    return {
        "changes": [
            {
                "version": change.version,
                "author": author(change.actor, usernames),
                "created_at": change.created_at,
                "comment": change.comment or "",
                "changed": change.changed,
            }
            for change in changes
        ],
        "next_before": next_before,
    }


def diff_context(diff: VersionDiff, usernames: dict[str, str]) -> dict[str, Any]:
    change = diff.change
    return {
        "version": change.version,
        "author": author(change.actor, usernames),
        "created_at": change.created_at,
        "comment": change.comment or "",
        "rows": [
            {"path": path, "before": shown(before), "after": shown(after)}
            for path, before, after in diff.values
        ],
    }


async def _usernames(call: PageCall) -> dict[str, str]:
    accounts = await call.run(staff.list_users, call.node.db)
    return {account.id: account.username for account in accounts}


async def history_page(call: PageCall) -> View:
    node = call.node
    raw = call.request.query_params.get("before", "")
    before = int(raw) if raw.isdigit() and len(raw) < 10 else None
    changes: list[ProgramChange] = await call.run(
        program_service.program_history,
        node.db,
        node.settings,
        before=before,
        limit=PAGE_SIZE,
    )
    more = len(changes) == PAGE_SIZE and changes[-1].version > 1
    return View(
        history_context(
            changes, await _usernames(call), next_before=changes[-1].version if more else None
        )
    )


async def version_page(call: PageCall) -> View:
    node = call.node
    raw = str(call.request.path_params["version"])
    if not raw.isdigit() or len(raw) > 9:
        raise NotFound(call.gettext("No such program version."), field="version")
    diff = await call.run(program_service.version_diff, node.db, node.settings, version=int(raw))
    return View(diff_context(diff, await _usernames(call)))


PAGES = [
    Page(
        "/program/history",
        "program_history_list",
        history_page,
        action="program.view",
        template="staff/program_history.html",
    ),
    Page(
        "/program/history/{version}",
        "program_version",
        version_page,
        action="program.view",
        template="staff/program_version.html",
    ),
]
