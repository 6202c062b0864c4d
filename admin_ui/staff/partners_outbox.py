"""The outbox (operator): every message still waiting for its partner's answer,
by partner: queued (never sent), retrying (with the next attempt and the last
error) or overdue (past its expiry; the partner will answer ``expired``).

With ``partners.manage``: *send again now* makes a message due at once (the
next delivery round sends it; a repeat is harmless, the partner answers it with
its stored answer). *Cancel* exists only for a transfer that was never sent,
after a confirmation step: its points go back to the member
(node.services.outbox_control explains why nothing else may be cancelled).
"""

from __future__ import annotations

from typing import Any

from starlette.responses import RedirectResponse, Response

from admin_ui.i18n import N_
from admin_ui.pages import Page, PageCall, View
from admin_ui.permissions import allowed
from node.errors import Conflict, NotFound
from node.services import outbox_control

STATE_LABELS = {
    "queued": N_("queued"),
    "retrying": N_("retrying"),
    "overdue": N_("overdue: past its expiry"),
}
DONE_LABELS = {
    "retried": N_("The message goes out on the next delivery round."),
    "cancelled": N_("The transfer was cancelled and its points went back to the member."),
}
MESSAGE_ID_LENGTH = 64


def outbox_context(
    messages: list[dict[str, Any]], *, can_manage: bool, done: str | None = None
) -> dict[str, Any]:
    partners: dict[str, list[dict[str, Any]]] = {}
    for message in messages:
        partners.setdefault(message["partner"], []).append(message)
    return {
        "partners": partners,
        "can_manage": can_manage,
        "done": done if done in DONE_LABELS else None,
        "done_labels": DONE_LABELS,
        "state_labels": STATE_LABELS,
    }


def cancel_context(message: dict[str, Any], *, error: str | None = None) -> dict[str, Any]:
    return {"message": message, "error": error, "state_labels": STATE_LABELS}


def _message_id(call: PageCall) -> str:
    message_id = str(call.request.path_params["message_id"])
    if len(message_id) > MESSAGE_ID_LENGTH:
        raise NotFound("no such message in the outbox", field="message_id")
    return message_id


def _find(call: PageCall, message_id: str) -> dict[str, Any]:
    node = call.node
    return outbox_control.find_message(node.db, message_id=message_id, now=node.clock.now())


async def outbox_page(call: PageCall) -> View:
    assert call.staff is not None
    node = call.node
    messages = await call.run(outbox_control.unanswered_messages, node.db, now=node.clock.now())
    return View(
        outbox_context(
            messages,
            can_manage=allowed(call.staff.role, "partners.manage"),
            done=call.request.query_params.get("done"),
        )
    )


def _back(call: PageCall, done: str) -> Response:
    target = call.request.url_for("partners_outbox").path
    return RedirectResponse(f"{target}?done={done}", status_code=303)


async def retry_message(call: PageCall) -> Response:
    node = call.node
    await call.run(
        outbox_control.retry_now, node.db, message_id=_message_id(call), now=node.clock.now()
    )
    return _back(call, "retried")


async def cancel_page(call: PageCall) -> View:
    return View(cancel_context(await call.run(_find, call, _message_id(call))))


async def cancel_message(call: PageCall) -> View | Response:
    node = call.node
    message_id = _message_id(call)
    try:
        await call.run(
            outbox_control.cancel_transfer,
            node.db,
            node.federation,
            message_id=message_id,
            now=node.clock.now(),
        )
    except Conflict as exc:
        message = await call.run(_find, call, message_id)
        return View(cancel_context(message, error=exc.message), status=exc.http_status)
    return _back(call, "cancelled")


PAGES = [
    Page(
        "/partners/outbox",
        "partners_outbox",
        outbox_page,
        action="partners.view",
        template="staff/outbox.html",
    ),
    Page(
        "/partners/outbox/{message_id}/retry",
        "partners_outbox_retry",
        retry_message,
        action="partners.manage",
        methods=("POST",),
    ),
    Page(
        "/partners/outbox/{message_id}/cancel",
        "partners_outbox_cancel",
        cancel_page,
        action="partners.manage",
        template="staff/outbox_cancel.html",
    ),
    Page(
        "/partners/outbox/{message_id}/cancel",
        "partners_outbox_cancelled",
        cancel_message,
        action="partners.manage",
        template="staff/outbox_cancel.html",
        methods=("POST",),
    ),
]
