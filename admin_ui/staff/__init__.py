"""The staff pages at /admin. Add a page group as a module with a PAGES list and
append it to STAFF_PAGES (see admin_ui/__init__.py)."""

from __future__ import annotations

from admin_ui.pages import Page
from admin_ui.staff import (
    account,
    apikeys,
    auth,
    customers,
    customers_adjust,
    dashboard,
    partners,
    partners_outbox,
    privacy_audit,
    privacy_consent,
    privacy_exports,
    privacy_requests,
    privacy_retention,
    program,
    program_history,
    program_webhooks,
    settlement,
    users,
)

STAFF_PAGES: list[Page] = [*auth.PAGES, *dashboard.PAGES, *users.PAGES]
STAFF_PAGES += [*privacy_requests.PAGES, *privacy_audit.PAGES]
STAFF_PAGES += [*privacy_consent.PAGES, *privacy_retention.PAGES, *privacy_exports.PAGES]

# The operator's pages, one module per page group.
STAFF_PAGES += [*program.PAGES, *program_history.PAGES, *program_webhooks.PAGES]
STAFF_PAGES += [*customers.PAGES, *customers_adjust.PAGES, *apikeys.PAGES]
STAFF_PAGES += [*partners.PAGES, *partners_outbox.PAGES, *settlement.PAGES]

# My account (a staff member's own password and second factor).
STAFF_PAGES += [*account.PAGES]

__all__ = ["STAFF_PAGES"]
