"""Donating points to a charity of the consortium, named or anonymous, and
downloading the charity's signed receipt once it has answered.

The form carries a key made when it was rendered; the donation runs once per
key (node.services.idempotency), so a double click gives once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.responses import RedirectResponse, Response

from admin_ui.i18n import N_
from admin_ui.pages import Download, Page, PageCall, View
from admin_ui.portal.transfers import FORM_KEY, idempotency_key, new_form_key, refusal_message
from node.errors import ConsentRequired, KonsortError, ProcessingRestricted
from node.services import donations, portal
from node.services.idempotency import run_idempotent_async
from protocol.encoding import canonical_json

STATUS_LABELS = {
    "pending": N_("on its way"),
    "accepted": N_("received by the charity"),
    "rejected": N_("returned"),
}


def donations_context(
    options: portal.DonationOptions | None,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    refusal: str | None = None,
    notice: str | None = None,
    form_key: str = "",
) -> dict[str, Any]:
    charities = options.charities if options else []
    given = [
        {
            "id": item["id"],
            "charity": item["charity"],
            "points": -item["points"],
            "anonymous": item["anonymous"],
            "status": STATUS_LABELS.get(item["status"], item["status"]),
            "receipt": item["status"] == "accepted" and item["receipt"] is not None,
            "created_at": datetime.fromisoformat(item["created_at"]),
        }
        for item in (options.donations if options else [])
    ]
    return {
        "charities": [(c.node_id, c.display_name) for c in charities],
        "balance": options.balance if options else 0,
        "donations": given,
        "form": form
        or {"charity": charities[0].node_id if charities else "", "points": "", "anonymous": ""},
        "errors": errors or {},
        "refusal": refusal,
        "notice": notice,
        "form_key": form_key,
    }


def _typed(form: Any) -> dict[str, str]:
    return {
        "charity": str(form.get("charity", ""))[:64],
        "points": str(form.get("points", "")).strip()[:12],
        "anonymous": "yes" if form.get("anonymous") == "yes" else "",
    }


async def _options(call: PageCall) -> portal.DonationOptions:
    assert call.customer_id is not None
    node = call.node
    options: portal.DonationOptions = await call.run(
        portal.donation_options,
        node.db,
        node.federation,
        customer_id=call.customer_id,
        now=node.clock.now(),
    )
    return options


async def donate_page(call: PageCall) -> View:
    given = call.request.query_params.get("given") is not None
    notice = call.gettext("Thank you. Your donation is on its way.") if given else None
    return View(donations_context(await _options(call), form_key=new_form_key(), notice=notice))


async def donate(call: PageCall) -> View | Response:
    assert call.customer_id is not None
    form = await call.form()
    typed = _typed(form)
    form_key = str(form.get("form_key", ""))
    if not typed["points"].isdigit() or int(typed["points"]) <= 0 or not FORM_KEY.match(form_key):
        message = call.gettext("Enter a whole number of points.")
        return View(
            donations_context(
                await _options(call),
                form=typed,
                errors={"points": message},
                form_key=form_key if FORM_KEY.match(form_key) else new_form_key(),
            ),
            status=422,
        )
    node = call.node
    unit = donations.donation_unit(
        node.federation,
        customer_id=call.customer_id,
        charity=typed["charity"],
        points=int(typed["points"]),
        anonymous=typed["anonymous"] == "yes",
        idempotency_key=idempotency_key(call.customer_id, form_key),
        now=node.clock.now(),
        actor=call.customer_id,
    )
    try:
        await run_idempotent_async(node.db, unit)
    except KonsortError as exc:
        if exc.http_status >= 500:
            raise
        message = refusal_message(exc, call.gettext)
        beside = not isinstance(exc, (ConsentRequired, ProcessingRestricted)) and exc.field in typed
        return View(
            donations_context(
                await _options(call),
                form=typed,
                errors={exc.field or "": message} if beside else None,
                refusal=None if beside else message,
                form_key=new_form_key(),
            ),
            status=exc.http_status,
        )
    return RedirectResponse(call.request.url_for("portal_donate").path + "?given", status_code=303)


async def download_receipt(call: PageCall) -> Download:
    """The charity's receipt with its signed donation.answer, to verify with its manifest key."""
    assert call.customer_id is not None
    found: donations.DonationReceiptDocument = await call.run(
        donations.donation_receipt,
        call.node.db,
        customer_id=call.customer_id,
        donation_id=call.request.path_params["donation_id"],
    )
    document = {
        "donation": found.donation.public_id,
        "charity": found.donation.peer,
        "receipt": found.receipt,
        "answer_token": found.answer_token,
    }
    return Download(
        canonical_json(document),
        f"donation-receipt-{found.donation.public_id}.json",
        "application/json",
    )


PAGES = [
    Page("/donate", "portal_donate", donate_page, auth="member", template="portal/donate.html"),
    Page(
        "/donate",
        "portal_donate_give",
        donate,
        auth="member",
        template="portal/donate.html",
        methods=("POST",),
    ),
    Page(
        "/donations/{donation_id}/receipt",
        "portal_donation_receipt",
        download_receipt,
        auth="member",
    ),
]
