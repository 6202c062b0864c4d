"""The operator's settlement pages (issue 10)."""

from __future__ import annotations

from admin_ui.pages import Page

PAGES: list[Page] = []
