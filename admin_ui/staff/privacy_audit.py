"""The audit log: entries filtered by staff member, customer id, action and date,
newest first, and whether the hash chain verifies.

Audit entries hold only opaque ids (actor, customer id, purpose, detail
tokens), so showing them is no display of personal data.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from admin_ui.i18n import N_
from admin_ui.pages import Page, PageCall, View
from node.errors import ValidationFailed
from node.services import audit, staff

FILTER_FIELDS = ("staff", "customer", "action", "from", "to")
PAGE_SIZE = 100


def audit_context(
    entries: list[dict[str, Any]],
    *,
    chain: audit.ChainReport | None,
    form: dict[str, str],
    errors: dict[str, str] | None = None,
    staff_options: list[tuple[str, str]] | None = None,
    next_before: int | None = None,
    gettext: Callable[[str], str] = str,
) -> dict[str, Any]:
    return {
        "entries": entries,
        "chain": chain,
        "form": {name: form.get(name, "") for name in FILTER_FIELDS},
        "errors": errors or {},
        "staff_options": [("", gettext(N_("anyone"))), *(staff_options or [])],
        "actions": [("", gettext(N_("any action")))]
        + [(name, name) for name in sorted(audit.ACTIONS)],
        "next_before": next_before,
    }


def _day(value: str, field: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.combine(date.fromisoformat(value), time(), tzinfo=UTC)
    except ValueError:
        raise ValidationFailed(f"{field}: a date like 2026-01-31", field=field) from None


def search(
    db: Any, *, form: dict[str, str], before: int | None
) -> tuple[list[dict[str, Any]], int | None, audit.ChainReport, list[tuple[str, str]]]:
    """The entries, the chain's state and the staff list, for one page view."""
    since = _day(form["from"], "from")
    until = _day(form["to"], "to")
    if form["action"] and form["action"] not in audit.ACTIONS:
        raise ValidationFailed("action: not an action the audit log records", field="action")
    entries, next_before = audit.search_entries(
        db,
        actor=form["staff"] or None,
        customer_id=form["customer"] or None,
        action=form["action"] or None,
        since=since,
        until=until + timedelta(days=1) if until is not None else None,
        before_seq=before,
        limit=PAGE_SIZE,
    )
    users = [(f"staff:{user.id}", user.username) for user in staff.list_users(db)]
    return entries, next_before, audit.verify_chain(db), users


async def audit_page(call: PageCall) -> View:
    query = call.request.query_params
    form = {name: query.get(name, "")[:60].strip() for name in FILTER_FIELDS}
    before_text = query.get("before", "")
    before = int(before_text) if before_text.isdigit() else None
    try:
        entries, next_before, chain, users = await call.run(
            search, call.node.db, form=form, before=before
        )
    except ValidationFailed as exc:
        return View(
            audit_context(
                [],
                chain=None,
                form=form,
                errors={exc.field or "from": exc.message},
                gettext=call.gettext,
            ),
            status=422,
        )
    return View(
        audit_context(
            entries,
            chain=chain,
            form=form,
            staff_options=users,
            next_before=next_before,
            gettext=call.gettext,
        )
    )


PAGES = [
    Page(
        "/privacy/audit",
        "privacy_audit",
        audit_page,
        action="privacy.audit.view",
        template="staff/privacy/audit.html",
        nav=N_("Audit log"),
    ),
]
