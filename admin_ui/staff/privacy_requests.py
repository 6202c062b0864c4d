"""Data-subject requests: the queue (by due date, overdue marked) and one request's
review (verify identity, approve, which carries the request out, reject or
extend with a reason), its history, each partner's receipt for an erasure
with "deliver now" for those missing, and an access export's download.

The request pages show no personal data (request_view holds opaque ids, states
and dates). The export zip does: its page sets ``personal_data`` and the
download is audited by admin_ui.pages like every other display of a
customer's data.

Every form carries its own idempotency key, made when the page is shown, so a
double submit replays the first answer instead of acting twice.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from starlette.responses import RedirectResponse, Response

from admin_ui.i18n import N_
from admin_ui.pages import Download, Page, PageCall, View
from admin_ui.permissions import allowed
from node.db import Database
from node.errors import Conflict, NotFound, ValidationFailed
from node.services import access_export, partner_notices
from node.services import subject_requests as requests
from node.services.federation import Federation
from node.services.idempotency import Unit, run_idempotent_async

STATE_LABELS = {
    "received": N_("received"),
    "identity_verified": N_("identity verified"),
    "approved": N_("approved"),
    "rejected": N_("rejected"),
    "done": N_("done"),
}
TYPE_LABELS = {
    "access": N_("access"),
    "portability": N_("portability"),
    "rectification": N_("rectification"),
    "erasure": N_("erasure"),
    "restriction": N_("restriction"),
    "restriction_lift": N_("lifting a restriction"),
    "objection": N_("objection"),
}
METHOD_LABELS = {
    "in_person_document": N_("identity document checked in person"),
    "customer_token_confirmation": N_("the member confirms with their own sign-in"),
}
NOTICE_LABELS = {
    partner_notices.QUEUED: N_("waiting for the receipt"),
    partner_notices.RECEIPT_IN: N_("receipt in"),
    partner_notices.REJECTED: N_("refused"),
}
FILTERS = ("open", "overdue", "all")


def _key() -> str:
    return uuid.uuid4().hex


def _timed(item: dict[str, Any]) -> dict[str, Any]:
    """The same dict with its ``*_at`` ISO strings as datetimes, for the date filter."""
    return {
        name: datetime.fromisoformat(value)
        if (name == "at" or name.endswith("_at")) and isinstance(value, str)
        else value
        for name, value in item.items()
    }


def queue_context(
    items: list[dict[str, Any]], *, show: str, next_cursor: str | None = None
) -> dict[str, Any]:
    """The queue, soonest due first."""
    return {
        "items": [
            _timed(item) for item in sorted(items, key=lambda item: (item["due_at"], item["id"]))
        ],
        "show": show,
        "filters": FILTERS,
        "next_cursor": next_cursor,
        "state_labels": STATE_LABELS,
        "type_labels": TYPE_LABELS,
    }


def request_context(
    found: dict[str, Any],
    *,
    can_act: bool,
    can_export: bool,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    done: str | None = None,
    key: str = "",
    partner_names: dict[str, str] | None = None,
) -> dict[str, Any]:
    open_ = found["state"] in ("received", "identity_verified")
    request = _timed(found)
    request["history"] = [_timed(event) for event in found.get("history", [])]
    names = partner_names or {}
    request["partner_notices"] = [
        {**_timed(notice), "partner_name": names.get(notice["partner"], notice["partner"])}
        for notice in found.get("partner_notices", [])
    ]
    return {
        "request": request,
        "open": open_,
        "can_act": can_act and open_,
        "can_verify": can_act and found["state"] == "received",
        "can_approve": can_act and found["state"] == "identity_verified",
        "can_extend": can_act and open_ and found["extension"] is None,
        "can_export": can_export and found["export_available"],
        "can_retry": can_act,
        "errors": errors or {},
        "form": {"method": "in_person_document", "reason": "", "months": "1", **(form or {})},
        "done": done,
        "key": key or _key(),
        "methods": list(METHOD_LABELS.items()),
        "state_labels": STATE_LABELS,
        "type_labels": TYPE_LABELS,
        "notice_labels": NOTICE_LABELS,
    }


async def queue_page(call: PageCall) -> View:
    show = call.request.query_params.get("show", "open")
    if show not in FILTERS:
        show = "open"
    cursor = call.request.query_params.get("cursor") or None
    found = await call.run(
        requests.list_requests,
        call.node.db,
        now=call.node.clock.now(),
        overdue=show == "overdue",
        cursor=cursor,
        limit=200,
    )
    items = found["items"]
    if show == "open":
        items = [item for item in items if item["state"] in ("received", "identity_verified")]
    return View(queue_context(items, show=show, next_cursor=found["next_cursor"]))


def _partner_names(db: Database, federation: Federation) -> dict[str, str]:
    """node id -> display name, from the manifest in force (none before one is loaded)."""
    with db.read() as session:
        manifest = federation.manifest_txn(session=session)
    return {m.node_id: m.display_name for m in manifest.members} if manifest else {}


def _request_id(call: PageCall) -> str:
    value = str(call.request.path_params["request_id"])
    if len(value) > 64:
        raise NotFound("no such request", field="id")
    return value


async def _show(
    call: PageCall,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> View:
    assert call.staff is not None
    found = await call.run(
        requests.get_request,
        call.node.db,
        request_id=_request_id(call),
        now=call.node.clock.now(),
    )
    context = request_context(
        found,
        can_act=allowed(call.staff.role, "privacy.requests.manage"),
        can_export=allowed(call.staff.role, "privacy.export.download"),
        errors=errors,
        form=form,
        done=call.request.query_params.get("done"),
        partner_names=await call.run(_partner_names, call.node.db, call.node.federation)
        if found.get("partner_notices")
        else None,
    )
    return View(context, template="staff/privacy/request.html", status=status)


async def request_page(call: PageCall) -> View:
    return await _show(call)


def _unit(call: PageCall, action: str, form: dict[str, str], key: str) -> Unit:
    assert call.staff is not None
    actor = f"staff:{call.staff.id}"
    node, request_id, now = call.node, _request_id(call), call.node.clock.now()
    idempotency_key = f"admin-ui:{key}"
    if action == "verify":
        return requests.verify_unit(
            request_id=request_id,
            method=form["method"],
            actor=actor,
            idempotency_key=idempotency_key,
            now=now,
        )
    if action == "approve":
        return requests.approve_unit(
            node=node, request_id=request_id, actor=actor, idempotency_key=idempotency_key, now=now
        )
    if action == "reject":
        return requests.reject_unit(
            request_id=request_id,
            actor=actor,
            reason=form["reason"],
            idempotency_key=idempotency_key,
            now=now,
        )
    if not form["months"].isdigit():
        raise ValidationFailed("an extension is one or two months", field="months")
    return requests.extend_unit(
        request_id=request_id,
        actor=actor,
        months=int(form["months"]),
        reason=form["reason"],
        idempotency_key=idempotency_key,
        now=now,
    )


async def act_on_request(call: PageCall) -> View | Response:
    """One step of the review: verify, approve (carries it out), reject or extend."""
    posted = await call.form()
    action = str(posted.get("action", ""))
    reason_field = "extension_reason" if action == "extend" else "reason"
    typed = {
        "method": str(posted.get("method", ""))[:40],
        "reason": str(posted.get(reason_field, ""))[:500],
        "months": str(posted.get("months", ""))[:2],
    }
    key = str(posted.get("key", ""))[:64] or _key()
    if action not in ("verify", "approve", "reject", "extend"):
        return await _show(
            call,
            errors={"action": call.gettext("Choose what to do.")},
            form=typed,
            status=422,
        )
    try:
        answer = await run_idempotent_async(call.node.db, _unit(call, action, typed, key))
    except (ValidationFailed, Conflict) as exc:
        field = exc.field if exc.field in ("method", "reason", "months") else action
        field = reason_field if field == "reason" else field
        return await _show(call, errors={field: exc.message}, form=typed, status=exc.http_status)
    if answer.status_code >= 400:
        return await _show(
            call, errors={action: call.gettext("That was refused.")}, form=typed, status=409
        )
    if action == "approve":
        await call.run(requests.scrub_after_erasure, call.node.db, request_id=_request_id(call))
    target = call.request.url_for("privacy_request", request_id=_request_id(call)).path
    return RedirectResponse(f"{target}?done={action}", status_code=303)


async def deliver_notice(call: PageCall) -> View | Response:
    """Ask the outbox to deliver a partner's notice now (its receipt is missing)."""
    posted = await call.form()
    try:
        await call.run(
            partner_notices.deliver_notice_now,
            call.node.db,
            notice_id=str(posted.get("notice", ""))[:64],
            now=call.node.clock.now(),
        )
    except (NotFound, Conflict) as exc:
        return await _show(call, errors={"notice": exc.message}, status=exc.http_status)
    target = call.request.url_for("privacy_request", request_id=_request_id(call)).path
    return RedirectResponse(f"{target}?done=deliver", status_code=303)


async def download_export(call: PageCall) -> Download:
    """The member's access export zip; admin_ui.pages audits the download."""
    node = call.node
    found = await call.run(
        access_export.build_export,
        node.db,
        secrets=node.secrets,
        node_id=node.settings.node_id,
        request_id=_request_id(call),
        now=node.clock.now(),
    )
    return Download(found.content, found.filename, "application/zip", found.customer_id)


_REQUEST = "/privacy/requests/{request_id}"

PAGES = [
    Page(
        "/privacy/requests",
        "privacy_requests",
        queue_page,
        action="privacy.requests.view",
        template="staff/privacy/requests.html",
        nav=N_("Requests"),
    ),
    Page(
        _REQUEST,
        "privacy_request",
        request_page,
        action="privacy.requests.view",
        template="staff/privacy/request.html",
    ),
    Page(
        _REQUEST,
        "privacy_request_act",
        act_on_request,
        action="privacy.requests.manage",
        template="staff/privacy/request.html",
        methods=("POST",),
    ),
    Page(
        _REQUEST + "/deliver",
        "privacy_request_deliver",
        deliver_notice,
        action="privacy.requests.manage",
        template="staff/privacy/request.html",
        methods=("POST",),
    ),
    Page(
        _REQUEST + "/export",
        "privacy_request_export",
        download_export,
        action="privacy.export.download",
        personal_data=True,
        audit_action="export.download",
        purpose="subject_request",
    ),
]
