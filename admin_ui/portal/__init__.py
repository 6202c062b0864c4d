"""The member portal at /me. Add a page group as a module with a PAGES list and
append it to PORTAL_PAGES; portal pages use auth="member"."""

from __future__ import annotations

from admin_ui.pages import Page
from admin_ui.portal import consents, home, signin, transfers

PORTAL_PAGES: list[Page] = [*signin.PAGES]
PORTAL_PAGES += [*home.PAGES, *transfers.PAGES, *consents.PAGES]

__all__ = ["PORTAL_PAGES"]

from admin_ui.portal import donations, mydata, partners, rewards  # noqa: E402

PORTAL_PAGES += [*partners.PAGES, *rewards.PAGES, *donations.PAGES, *mydata.PAGES]

from admin_ui.portal import history  # noqa: E402

PORTAL_PAGES += [*history.PAGES]
