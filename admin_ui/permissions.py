"""THE permission table: which role may do what in the admin UI.

Every staff page declares one action (admin_ui.pages.Page.action); a role
reaches a page exactly when the action is in its set below. Auditors read
everything they may see and change nothing: their set holds only ``*.view``
actions (a test checks that). Add a page's action here, with a line in
ACTIONS, in the same change as the page.
"""

from __future__ import annotations

from node.store.staff_models import ROLES

#: Every action a page may require, with what it allows.
ACTIONS: dict[str, str] = {
    "home.view": "see the start page and one's own account",
    "kpis.view": "see the KPI dashboard and its charts",
    "staff.view": "see the list of staff users",
    "staff.manage": "create staff users",
}

PERMISSIONS: dict[str, frozenset[str]] = {
    "operator": frozenset({"home.view", "kpis.view", "staff.view", "staff.manage"}),
    "privacy_officer": frozenset({"home.view"}),
    "auditor": frozenset({"home.view", "kpis.view", "staff.view"}),
}

assert set(PERMISSIONS) == set(ROLES)
assert all(actions <= set(ACTIONS) for actions in PERMISSIONS.values())


def allowed(role: str, action: str) -> bool:
    """May ``role`` do ``action``? Unknown roles and actions may do nothing."""
    return action in PERMISSIONS.get(role, frozenset())
