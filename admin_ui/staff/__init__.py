"""The staff pages at /admin. Add a page group as a module with a PAGES list and
append it to STAFF_PAGES (see admin_ui/__init__.py)."""

from __future__ import annotations

from admin_ui.pages import Page
from admin_ui.staff import (
    auth,
    dashboard,
    privacy_audit,
    privacy_consent,
    privacy_exports,
    privacy_requests,
    privacy_retention,
    users,
)

STAFF_PAGES: list[Page] = [*auth.PAGES, *dashboard.PAGES, *users.PAGES]
STAFF_PAGES += [*privacy_requests.PAGES, *privacy_audit.PAGES]
STAFF_PAGES += [*privacy_consent.PAGES, *privacy_retention.PAGES, *privacy_exports.PAGES]

__all__ = ["STAFF_PAGES"]
