"""Moving points to a partner: choose partner and points, see the converted
amount, confirm.

The confirm form carries a key made when the preview was rendered; the
transfer runs once per key (node.services.idempotency), so a double click or
a resent form moves the points once.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

from starlette.responses import RedirectResponse, Response

from admin_ui.i18n import N_
from admin_ui.pages import Page, PageCall, View
from node.errors import ConsentRequired, KonsortError, ProcessingRestricted
from node.services import portal, transfers
from node.services.idempotency import run_idempotent_async

FORM_KEY = re.compile(r"^[A-Za-z0-9-]{16,64}$")

#: What the member reads for the service's refusals, by error code.
REFUSALS = {
    "consent_required": N_(
        "Moving points needs your consent to partner transfers. "
        "You can give it on the Consents page."
    ),
    "processing_restricted": N_("Your membership is restricted, so points cannot move now."),
    "not_linked": N_("Your account is not linked with this partner."),
    "partner_unavailable": N_("This partner does not take transfers now."),
    "insufficient_points": N_("You do not have that many points."),
}


def new_form_key() -> str:
    return str(uuid.uuid4())


def idempotency_key(customer_id: str, form_key: str) -> str:
    """The key a portal form's submission runs under (per member, so keys never collide)."""
    return f"portal:{customer_id}:{form_key}"


def refusal_message(exc: KonsortError, gettext: Callable[[str], str]) -> str:
    if exc.code in REFUSALS:
        return gettext(REFUSALS[exc.code])
    return exc.message


def transfer_context(
    options: portal.TransferOptions | None,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    refusal: str | None = None,
    preview: portal.TransferPreview | None = None,
    form_key: str = "",
    currency: str = "DKK",
    exponent: int = 2,
) -> dict[str, Any]:
    partners = options.partners if options else []
    return {
        "partners": [(p.node_id, p.display_name) for p in partners],
        "balance": options.balance if options else 0,
        "operations": options.operations if options else [],
        "form": form or {"partner": partners[0].node_id if partners else "", "points": ""},
        "errors": errors or {},
        "refusal": refusal,
        "preview": preview,
        "form_key": form_key,
        "currency": currency,
        "exponent": exponent,
    }


def _typed(form: Any) -> dict[str, str]:
    return {
        "partner": str(form.get("partner", ""))[:64],
        "points": str(form.get("points", "")).strip()[:12],
    }


async def _options(call: PageCall) -> portal.TransferOptions:
    assert call.customer_id is not None
    node = call.node
    options: portal.TransferOptions = await call.run(
        portal.transfer_options,
        node.db,
        node.federation,
        customer_id=call.customer_id,
        now=node.clock.now(),
    )
    return options


def _view(call: PageCall, options: portal.TransferOptions, status: int = 200, **kw: Any) -> View:
    settings = call.node.settings
    template = "portal/transfer_preview.html" if kw.get("preview") else "portal/transfer.html"
    return View(
        transfer_context(
            options, currency=settings.currency, exponent=settings.currency_exponent, **kw
        ),
        template=template,
        status=status,
    )


def _form_error(
    call: PageCall, options: portal.TransferOptions, typed: dict[str, str], exc: KonsortError
) -> View:
    if isinstance(exc, (ConsentRequired, ProcessingRestricted)) or exc.field not in typed:
        return _view(
            call, options, exc.http_status, form=typed, refusal=refusal_message(exc, call.gettext)
        )
    message = refusal_message(exc, call.gettext)
    return _view(call, options, exc.http_status, form=typed, errors={exc.field or "": message})


async def transfer_form(call: PageCall) -> View:
    return _view(call, await _options(call))


async def transfer_preview(call: PageCall) -> View:
    assert call.customer_id is not None
    typed = _typed(await call.form())
    options = await _options(call)
    if not typed["points"].isdigit():
        message = call.gettext("Enter a whole number of points.")
        return _view(call, options, 422, form=typed, errors={"points": message})
    node = call.node
    try:
        preview = await call.run(
            portal.preview_transfer,
            node.db,
            node.federation,
            customer_id=call.customer_id,
            partner=typed["partner"],
            points=int(typed["points"]),
            now=node.clock.now(),
        )
    except KonsortError as exc:
        if exc.http_status >= 500:
            raise
        return _form_error(call, options, typed, exc)
    return _view(call, options, form=typed, preview=preview, form_key=new_form_key())


async def transfer_confirm(call: PageCall) -> View | Response:
    assert call.customer_id is not None
    form = await call.form()
    typed = _typed(form)
    form_key = str(form.get("form_key", ""))
    if not typed["points"].isdigit() or not FORM_KEY.match(form_key):
        options = await _options(call)
        message = call.gettext("Enter a whole number of points.")
        return _view(call, options, 422, form=typed, errors={"points": message})
    node = call.node
    unit = transfers.start_transfer_unit(
        node.federation,
        customer_id=call.customer_id,
        partner=typed["partner"],
        points=int(typed["points"]),
        idempotency_key=idempotency_key(call.customer_id, form_key),
        now=node.clock.now(),
        actor=call.customer_id,
    )
    try:
        await run_idempotent_async(node.db, unit)
    except KonsortError as exc:
        if exc.http_status >= 500:
            raise
        return _form_error(call, await _options(call), typed, exc)
    return RedirectResponse(call.request.url_for("portal_home").path + "?moved", status_code=303)


PAGES = [
    Page("/transfer", "portal_transfer", transfer_form, auth="member"),
    Page(
        "/transfer/preview",
        "portal_transfer_preview",
        transfer_preview,
        auth="member",
        methods=("POST",),
    ),
    Page(
        "/transfer", "portal_transfer_confirm", transfer_confirm, auth="member", methods=("POST",)
    ),
]
