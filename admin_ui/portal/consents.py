"""The member's consents: each purpose with its wording and state, given or
withdrawn with one button each (withdrawing is as easy as giving)."""

from __future__ import annotations

import re
from typing import Any

from starlette.responses import RedirectResponse, Response

from admin_ui.pages import Page, PageCall, View
from admin_ui.portal.transfers import FORM_KEY, idempotency_key, new_form_key
from node.errors import KonsortError
from node.services import consent
from node.services.idempotency import run_idempotent_async

PURPOSE = re.compile(r"^[a-z0-9_]{1,64}$")


def consents_context(
    overview: dict[str, Any] | None,
    *,
    form_key: str = "",
    changed: str | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    purposes = overview["purposes"] if overview else []
    return {
        "purposes": [p for p in purposes if p["legal_basis"] != "contract"],
        "restricted": bool(overview and overview["restricted"]),
        "form_key": form_key,
        "changed": changed,
        "error": error,
    }


async def _overview(call: PageCall) -> dict[str, Any]:
    assert call.customer_id is not None
    found: dict[str, Any] = await call.run(
        consent.consent_overview, call.node.db, customer_id=call.customer_id
    )
    return found


async def consents_page(call: PageCall) -> View:
    changed = call.request.query_params.get("changed")
    overview = await _overview(call)
    titles = {p["purpose"]: p["title"] for p in overview["purposes"]}
    return View(
        consents_context(overview, form_key=new_form_key(), changed=titles.get(changed or ""))
    )


async def change_consent(call: PageCall) -> View | Response:
    assert call.customer_id is not None
    form = await call.form()
    purpose = call.request.path_params["purpose"]
    form_key = str(form.get("form_key", ""))
    granted = str(form.get("granted", ""))
    if not PURPOSE.match(purpose) or not FORM_KEY.match(form_key) or granted not in ("1", "0"):
        overview = await _overview(call)
        return View(
            consents_context(
                overview,
                form_key=new_form_key(),
                error=call.gettext("That change could not be made. Please try again."),
            ),
            status=422,
        )
    node = call.node
    unit = consent.consent_unit(
        customer_id=call.customer_id,
        purpose=purpose,
        granted=granted == "1",
        channel="web",
        actor="customer",
        idempotency_key=idempotency_key(call.customer_id, f"{form_key}-{purpose}"),
        now=node.clock.now(),
    )
    try:
        await run_idempotent_async(node.db, unit)
    except KonsortError as exc:
        if exc.http_status >= 500:
            raise
        overview = await _overview(call)
        return View(
            consents_context(overview, form_key=new_form_key(), error=exc.message),
            status=exc.http_status,
        )
    target = call.request.url_for("portal_consents").path + f"?changed={purpose}"
    return RedirectResponse(target, status_code=303)


PAGES = [
    Page(
        "/consents",
        "portal_consents",
        consents_page,
        auth="member",
        template="portal/consents.html",
    ),
    Page(
        "/consents/{purpose}",
        "portal_consent_change",
        change_consent,
        auth="member",
        template="portal/consents.html",
        methods=("POST",),
    ),
]
