"""A manual adjustment of a member's points, posted from their page.

The form carries a one-time key made when the page was shown, so a double
submit posts one ledger transaction (node.services.adjustments replays the
first answer). A refusal (no reason, not a whole number, more points taken
than the balance holds) re-renders the member's page with what was typed
and the message next to the field; that page shows personal data, so this
page is audited like the member's page itself.
"""

from __future__ import annotations

import uuid

from starlette.responses import RedirectResponse, Response

from admin_ui.i18n import N_
from admin_ui.pages import Page, PageCall, View
from admin_ui.staff.customers import customer_id_of, show_customer
from node.errors import Conflict, InsufficientPoints, ValidationFailed
from node.services import adjustments
from node.services.idempotency import run_idempotent_async

_MESSAGES = {
    "points": N_("Type a whole number of points, not zero: positive adds, negative takes away."),
    "reason": N_("Say why (at most 200 characters)."),
    "insufficient_points": N_("The balance does not cover this many points."),
    "idempotency_key_reused": N_("This form was already used. Here is the page again."),
}


async def adjust_points(call: PageCall) -> View | Response:
    """Post the adjustment once per form key, then show the member's page."""
    assert call.staff is not None
    customer_id = customer_id_of(call)
    posted = await call.form()
    typed = {
        "points": str(posted.get("points", "")).strip()[:12],
        "reason": str(posted.get("reason", ""))[: adjustments.MAX_REASON + 50],
    }
    key = str(posted.get("key", ""))[:64] or uuid.uuid4().hex
    try:
        points = int(typed["points"])
    except ValueError:
        points = 0
    try:
        unit = adjustments.adjustment_unit(
            call.node.settings,
            customer_id=customer_id,
            points=points,
            reason=typed["reason"],
            actor=f"staff:{call.staff.id}",
            idempotency_key=f"admin-ui:{key}",
            now=call.node.clock.now(),
        )
        await run_idempotent_async(call.node.db, unit)
    except (ValidationFailed, Conflict) as exc:
        if isinstance(exc, InsufficientPoints):
            field, message = "points", _MESSAGES["insufficient_points"]
        elif exc.code == "idempotency_key_reused":
            field, message, key = "points", _MESSAGES["idempotency_key_reused"], ""
        else:
            field = exc.field if exc.field in ("points", "reason") else "points"
            message = _MESSAGES[field]
        return await show_customer(
            call,
            form=typed,
            errors={field: call.gettext(message)},
            key=key,
            status=exc.http_status,
        )
    target = call.request.url_for("customer", customer_id=customer_id).path
    return RedirectResponse(f"{target}?done=adjusted", status_code=303)


PAGES = [
    Page(
        "/customers/{customer_id}/adjustments",
        "customer_adjust",
        adjust_points,
        action="customers.adjust",
        template="staff/customer.html",
        methods=("POST",),
        personal_data=True,
    ),
]
