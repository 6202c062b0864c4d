"""The member's own data: ask for a copy of it or for its deletion, follow each
request's state and due date, and download the copy once it is ready.

A request filed here is filed with the member's own portal session, the same
proof as the customer token of the API, so it is identity-verified at filing
(subject_requests.file_request_unit with ``filed_by`` customer). A deletion
asks the member to tick a box first; each form carries a key, so a double
submit files one request.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.responses import RedirectResponse, Response

from admin_ui.i18n import N_
from admin_ui.pages import Download, Page, PageCall, View
from admin_ui.portal.transfers import FORM_KEY, idempotency_key, new_form_key
from admin_ui.staff.privacy_requests import STATE_LABELS, TYPE_LABELS
from node.errors import KonsortError
from node.services import access_export
from node.services import subject_requests as requests
from node.services.idempotency import run_idempotent_async

#: What the member may ask for here, and the notice shown after filing.
FILED = {
    "access": N_("We have your request for a copy of your data."),
    "erasure": N_("We have your request to delete your data."),
}


def _moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def mydata_context(
    found: list[dict[str, Any]] | None,
    *,
    form_key: str = "",
    errors: dict[str, str] | None = None,
    notice: str | None = None,
    refusal: str | None = None,
) -> dict[str, Any]:
    items = [
        {
            "id": item["id"],
            "type": TYPE_LABELS.get(item["type"], item["type"]),
            "state": STATE_LABELS.get(item["state"], item["state"]),
            "received_at": _moment(item["received_at"]),
            "due_at": _moment(item["due_at"]),
            "extended": item["extension"] is not None,
            "rejection_reason": item["rejection_reason"],
            "export_available": item["export_available"],
        }
        for item in found or []
    ]
    return {
        "requests": items,
        "form_key": form_key,
        "errors": errors or {},
        "notice": notice,
        "refusal": refusal,
    }


async def _requests(call: PageCall) -> list[dict[str, Any]]:
    found: dict[str, Any] = await call.run(
        requests.list_requests,
        call.node.db,
        now=call.node.clock.now(),
        customer_id=call.customer_id,
        limit=50,
    )
    items: list[dict[str, Any]] = found["items"]
    return items


async def mydata_page(call: PageCall) -> View:
    filed = call.request.query_params.get("filed", "")
    notice = call.gettext(FILED[filed]) if filed in FILED else None
    return View(mydata_context(await _requests(call), form_key=new_form_key(), notice=notice))


async def file_request(call: PageCall) -> View | Response:
    assert call.customer_id is not None
    form = await call.form()
    kind = str(form.get("type", ""))
    form_key = str(form.get("form_key", ""))
    if kind not in FILED or not FORM_KEY.match(form_key):
        message = call.gettext("That request could not be made. Please try again.")
        return View(
            mydata_context(await _requests(call), form_key=new_form_key(), refusal=message),
            status=422,
        )
    if kind == "erasure" and form.get("confirm") != "yes":
        message = call.gettext("Tick the box to confirm that your data is to be deleted.")
        return View(
            mydata_context(await _requests(call), form_key=form_key, errors={"confirm": message}),
            status=422,
        )
    node = call.node
    unit = requests.file_request_unit(
        secrets=node.secrets,
        customer_id=call.customer_id,
        type=kind,
        channel="portal",
        filed_by=requests.CUSTOMER,
        details=None,
        changes=None,
        idempotency_key=idempotency_key(call.customer_id, f"{form_key}-{kind}"),
        now=node.clock.now(),
    )
    try:
        await run_idempotent_async(node.db, unit)
    except KonsortError as exc:
        if exc.http_status >= 500:
            raise
        return View(
            mydata_context(await _requests(call), form_key=new_form_key(), refusal=exc.message),
            status=exc.http_status,
        )
    target = call.request.url_for("portal_data").path + f"?filed={kind}"
    return RedirectResponse(target, status_code=303)


async def download_export(call: PageCall) -> Download:
    """The member's own copy; the member's own access is not a staff access (no audit)."""
    assert call.customer_id is not None
    node = call.node
    found: access_export.ExportFile = await call.run(
        access_export.build_export,
        node.db,
        secrets=node.secrets,
        node_id=node.settings.node_id,
        request_id=call.request.path_params["request_id"],
        now=node.clock.now(),
        customer_id=call.customer_id,
    )
    return Download(found.content, found.filename, "application/zip")


PAGES = [
    Page("/data", "portal_data", mydata_page, auth="member", template="portal/mydata.html"),
    Page(
        "/data",
        "portal_data_file",
        file_request,
        auth="member",
        template="portal/mydata.html",
        methods=("POST",),
    ),
    Page("/data/{request_id}/export", "portal_data_export", download_export, auth="member"),
]
