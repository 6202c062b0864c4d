"""Linking the member's account here with their account at a partner.

Two halves, one at each business (node.services.links): here the member gets
a link code for a partner (with this node's reference for them, a pairwise
pseudonym), and enters both at the partner's portal; or they enter, here, the
code and reference the partner's portal gave them, and this node asks the
partner to link. The request form carries a key, so a double submit asks once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.responses import RedirectResponse, Response

from admin_ui.i18n import N_
from admin_ui.pages import Page, PageCall, View
from admin_ui.portal.transfers import FORM_KEY, idempotency_key, new_form_key, refusal_message
from node.errors import ConsentRequired, KonsortError, ProcessingRestricted
from node.services import links, portal
from node.services.idempotency import run_idempotent_async

STATUS_LABELS = {
    links.ACTIVE: N_("linked"),
    links.PENDING: N_("waiting for the partner"),
    links.REVOKED: N_("ended"),
    links.REFUSED: N_("refused"),
    links.RESTRICTED: N_("restricted"),
}
FIELDS = ("partner", "link_code", "subject")


def partners_context(
    options: portal.LinkOptions | None,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    refusal: str | None = None,
    notice: str | None = None,
    issued: links.IssuedLinkCode | None = None,
    issued_name: str = "",
    form_key: str = "",
) -> dict[str, Any]:
    partners = options.partners if options else []
    listed = [
        {
            "name": item["name"],
            "status": STATUS_LABELS.get(item["status"], item["status"]),
            "since": datetime.fromisoformat(item["since"]),
        }
        for item in (options.links if options else [])
    ]
    first = partners[0][0] if partners else ""
    return {
        "partners": partners,
        "links": listed,
        "form": form or {"partner": first, "link_code": "", "subject": ""},
        "errors": errors or {},
        "refusal": refusal,
        "notice": notice,
        "issued": issued,
        "issued_name": issued_name,
        "form_key": form_key,
    }


def _typed(form: Any) -> dict[str, str]:
    return {name: str(form.get(name, "")).strip()[:200] for name in FIELDS}


async def _options(call: PageCall) -> portal.LinkOptions:
    assert call.customer_id is not None
    found: portal.LinkOptions = await call.run(
        portal.link_options, call.node.db, call.node.federation, customer_id=call.customer_id
    )
    return found


def _refused(
    call: PageCall, options: portal.LinkOptions, typed: dict[str, str], exc: KonsortError
) -> View:
    message = refusal_message(exc, call.gettext)
    beside = not isinstance(exc, (ConsentRequired, ProcessingRestricted)) and exc.field in typed
    return View(
        partners_context(
            options,
            form=typed,
            errors={exc.field or "": message} if beside else None,
            refusal=None if beside else message,
            form_key=new_form_key(),
        ),
        status=exc.http_status,
    )


async def partners_page(call: PageCall) -> View:
    asked = call.request.query_params.get("asked") is not None
    notice = call.gettext("The partner is asked to link your accounts.") if asked else None
    return View(partners_context(await _options(call), form_key=new_form_key(), notice=notice))


async def issue_code(call: PageCall) -> View:
    """A fresh code for the chosen partner, shown once (it works once, for 15 minutes)."""
    assert call.customer_id is not None
    typed = _typed(await call.form())
    node = call.node
    options = await _options(call)
    try:
        issued = await call.run(
            links.create_link_code,
            node.db,
            node.federation,
            customer_id=call.customer_id,
            partner=typed["partner"],
            now=node.clock.now(),
        )
    except KonsortError as exc:
        if exc.http_status >= 500:
            raise
        # The code form has one field; its refusal goes above the forms.
        refusal = refusal_message(exc, call.gettext)
        return View(
            partners_context(options, refusal=refusal, form_key=new_form_key()),
            status=exc.http_status,
        )
    name = dict(options.partners).get(issued.partner, issued.partner)
    return View(partners_context(options, issued=issued, issued_name=name, form_key=new_form_key()))


async def request_link(call: PageCall) -> View | Response:
    assert call.customer_id is not None
    form = await call.form()
    typed = _typed(form)
    form_key = str(form.get("form_key", ""))
    missing = [name for name in ("link_code", "subject") if not typed[name]]
    if missing or not FORM_KEY.match(form_key):
        message = call.gettext("Enter the code and the reference the partner gave you.")
        return View(
            partners_context(
                await _options(call),
                form=typed,
                errors={name: message for name in missing or ["link_code"]},
                form_key=new_form_key(),
            ),
            status=422,
        )
    node = call.node
    unit = links.request_link_unit(
        node.federation,
        customer_id=call.customer_id,
        partner=typed["partner"],
        link_code=typed["link_code"],
        subject=typed["subject"],
        idempotency_key=idempotency_key(call.customer_id, form_key),
        now=node.clock.now(),
    )
    try:
        await run_idempotent_async(node.db, unit)
    except KonsortError as exc:
        if exc.http_status >= 500:
            raise
        return _refused(call, await _options(call), typed, exc)
    target = call.request.url_for("portal_partners").path + "?asked"
    return RedirectResponse(target, status_code=303)


PAGES = [
    Page(
        "/partners",
        "portal_partners",
        partners_page,
        auth="member",
        template="portal/partners.html",
    ),
    Page(
        "/partners/code",
        "portal_link_code",
        issue_code,
        auth="member",
        template="portal/partners.html",
        methods=("POST",),
    ),
    Page(
        "/partners",
        "portal_link_request",
        request_link,
        auth="member",
        template="portal/partners.html",
        methods=("POST",),
    ),
]
