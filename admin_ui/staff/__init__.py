"""The staff pages at /admin. Add a page group as a module with a PAGES list and
append it to STAFF_PAGES (see admin_ui/__init__.py)."""

from __future__ import annotations

from admin_ui.pages import Page
from admin_ui.staff import auth, dashboard, users

STAFF_PAGES: list[Page] = [*auth.PAGES, *dashboard.PAGES, *users.PAGES]

__all__ = ["STAFF_PAGES"]
