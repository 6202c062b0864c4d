"""Konsort admin UI and member portal: server-rendered pages mounted in the node.

``create_app`` mounts :func:`admin_ui.app.ui_routes`: the staff pages at
``/admin`` and the member portal at ``/me``. Both share base templates,
sessions, CSRF checks, security headers and i18n. Pages call the node's
service layer (node.services), never the store.

How to add a page (docs/admin-ui.md has the long version):

1. Write a module in ``admin_ui/staff/`` (or ``admin_ui/portal/``) with a pure
   ``*_context(...)`` function, an async handler ``(call: PageCall) -> View |
   Response`` that calls ONE service function through ``call.run`` and returns
   ``View(context)``, and a ``PAGES`` list of :class:`admin_ui.pages.Page`
   (path, route name, handler, ``action``, template, ``nav`` label,
   ``personal_data``).
2. Append the list to ``STAFF_PAGES`` in admin_ui/staff/__init__.py (or
   ``PORTAL_PAGES``).
3. Add the page's action to ``admin_ui.permissions.ACTIONS`` and to the roles
   in ``PERMISSIONS`` that may use it. The permission walk test picks it up.
4. Add the template under ``admin_ui/templates/staff/`` extending base.html,
   and an empty and a full sample context in tests/admin_ui/samples.py (the
   template test fails for a template without samples).
5. Pages that show a customer's personal data set ``personal_data=True`` and
   return ``View(..., customer_id=...)``: admin_ui.pages writes the audit entry.
6. Wrap every visible string in ``_()`` (templates) or ``N_()`` (Python), run
   ``make i18n`` and translate the new entries in the da and nb catalogues.

Extension points: Page, PageCall, View (admin_ui.pages); PERMISSIONS and
ACTIONS (admin_ui.permissions); STAFF_PAGES, PORTAL_PAGES; the blocks of
templates/base.html (title, content) and the macros of templates/_forms.html.
"""

from __future__ import annotations

__all__ = ["ui_routes"]

from admin_ui.app import ui_routes
