"""Consent: per purpose and wording version how many members have granted or
withdrawn it, the recent withdrawals, one customer's consent history, and new
wording for a purpose (each edit publishes the next version; none is changed).

The overview holds only counts and opaque ids. A customer's history is that
member's data: its page sets ``personal_data`` and admin_ui.pages audits the
view (``consent.view``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from starlette.responses import RedirectResponse, Response

from admin_ui.i18n import N_
from admin_ui.pages import Page, PageCall, View
from admin_ui.permissions import allowed
from node.errors import Conflict, NotFound, ValidationFailed
from node.services import consent, consent_purposes, consent_reports
from node.services.idempotency import run_idempotent_async

#: Opaque customer ids are at most this long (customer.id is String(40)).
CUSTOMER_ID_LENGTH = 40
BASIS_LABELS = {"consent": N_("consent"), "contract": N_("membership contract")}


def _key() -> str:
    return uuid.uuid4().hex


def _at(item: dict[str, Any], name: str) -> dict[str, Any]:
    """The same dict with its ISO time ``name`` as a datetime, for the date filter."""
    value = item.get(name)
    return {**item, name: datetime.fromisoformat(value) if isinstance(value, str) else value}


def consent_context(
    report: dict[str, Any], *, can_edit: bool, can_look_up: bool, done: str | None = None
) -> dict[str, Any]:
    return {
        "purposes": [
            {**p, "versions": [_at(v, "published_at") for v in p["versions"]]}
            for p in report["purposes"]
        ],
        "withdrawals": [_at(w, "recorded_at") for w in report["recent_withdrawals"]],
        "can_edit": can_edit,
        "can_look_up": can_look_up,
        "done": done,
        "basis_labels": BASIS_LABELS,
    }


def history_context(customer_id: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    return {"customer_id": customer_id, "records": [_at(r, "recorded_at") for r in records]}


def wording_context(
    purpose: dict[str, Any],
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    key: str = "",
) -> dict[str, Any]:
    return {
        "purpose": purpose,
        "form": {"title": purpose["title"], "text": purpose["text"], **(form or {})},
        "errors": errors or {},
        "key": key or _key(),
        "basis_labels": BASIS_LABELS,
    }


async def consent_page(call: PageCall) -> View:
    assert call.staff is not None
    report = await call.run(consent_reports.consent_counts, call.node.db)
    return View(
        consent_context(
            report,
            can_edit=allowed(call.staff.role, "privacy.consent.manage"),
            can_look_up=allowed(call.staff.role, "privacy.consent.history"),
            done=call.request.query_params.get("done"),
        )
    )


async def history_page(call: PageCall) -> View:
    customer_id = call.request.query_params.get("customer", "").strip()
    if not customer_id or len(customer_id) > CUSTOMER_ID_LENGTH:
        raise NotFound("no such customer", field="customer")
    records = await call.run(consent.consent_history, call.node.db, customer_id=customer_id)
    return View(history_context(customer_id, records), customer_id=customer_id)


def _purpose(db: Any, name: str) -> dict[str, Any]:
    for found in consent_purposes.list_purposes(db):
        if found.purpose == name:
            return consent_purposes.purpose_json(found)
    raise NotFound("no such consent purpose", field="purpose")


async def wording_page(call: PageCall) -> View:
    purpose = await call.run(_purpose, call.node.db, str(call.request.path_params["purpose"]))
    return View(wording_context(purpose))


async def publish_wording(call: PageCall) -> View | Response:
    """Publish the edited wording as the purpose's next version (once per form key)."""
    assert call.staff is not None
    name = str(call.request.path_params["purpose"])
    purpose = await call.run(_purpose, call.node.db, name)
    posted = await call.form()
    typed = {
        "title": str(posted.get("title", ""))[:200],
        "text": str(posted.get("text", ""))[:8000],
    }
    key = str(posted.get("key", ""))[:64] or _key()
    unit = consent_purposes.publish_unit(
        purpose=name,
        title=typed["title"],
        text=typed["text"],
        actor=f"staff:{call.staff.id}",
        idempotency_key=f"admin-ui:{key}",
        now=call.node.clock.now(),
    )
    try:
        await run_idempotent_async(call.node.db, unit)
    except (ValidationFailed, Conflict) as exc:
        field = exc.field if exc.field in ("title", "text") else "text"
        return View(
            wording_context(purpose, form=typed, errors={field: exc.message}, key=key),
            status=exc.http_status,
        )
    target = call.request.url_for("privacy_consent").path
    return RedirectResponse(f"{target}?done={name}", status_code=303)


PAGES = [
    Page(
        "/privacy/consent",
        "privacy_consent",
        consent_page,
        action="privacy.consent.view",
        template="staff/privacy/consent.html",
        nav=N_("Consent"),
    ),
    Page(
        "/privacy/consent/history",
        "privacy_consent_history",
        history_page,
        action="privacy.consent.history",
        template="staff/privacy/consent_history.html",
        personal_data=True,
        audit_action="consent.view",
        purpose="consent_check",
    ),
    Page(
        "/privacy/consent/purposes/{purpose}",
        "privacy_consent_wording",
        wording_page,
        action="privacy.consent.manage",
        template="staff/privacy/consent_wording.html",
    ),
    Page(
        "/privacy/consent/purposes/{purpose}",
        "privacy_consent_publish",
        publish_wording,
        action="privacy.consent.manage",
        template="staff/privacy/consent_wording.html",
        methods=("POST",),
    ),
]
