"""Webhooks on the program pages: the endpoints, adding one, disabling one.

Everything goes through node.services.webhooks, as the API does: an endpoint
added here answers with its signing secret once, on the page that follows the
form (a double submit with the same form key shows the same endpoint and
secret); the database holds it sealed. Disabling cancels the endpoint's
pending deliveries. Rotating secrets and retrying deliveries stay in the API
(docs/webhooks.md).
"""

from __future__ import annotations

import uuid
from typing import Any

from starlette.responses import RedirectResponse, Response

from admin_ui.pages import Page, PageCall, View
from admin_ui.permissions import allowed
from node.errors import Conflict, NotFound, ValidationFailed
from node.program.config import EVENT_TYPES
from node.services import webhooks


def _key() -> str:
    return uuid.uuid4().hex


def webhooks_context(
    endpoints: list[dict[str, Any]],
    *,
    can_manage: bool,
    url: str = "",
    events: list[str] | None = None,
    errors: dict[str, str] | None = None,
    added: dict[str, Any] | None = None,
    key: str = "",
) -> dict[str, Any]:
    return {
        "endpoints": endpoints,
        "can_manage": can_manage,
        "event_types": EVENT_TYPES,
        "typed_url": url,
        "events": events or [],
        "errors": errors or {},
        "added": added,
        "key": key or _key(),
    }


async def _endpoints(call: PageCall) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = await call.run(webhooks.list_endpoints, call.node.db)
    return found


async def webhooks_page(call: PageCall) -> View:
    assert call.staff is not None
    return View(
        webhooks_context(
            await _endpoints(call), can_manage=allowed(call.staff.role, "program.manage")
        )
    )


async def add_webhook(call: PageCall) -> View:
    """Add an endpoint (once per form key) and show its secret this once."""
    node = call.node
    posted = await call.form()
    url = str(posted.get("url", ""))[:600].strip()
    events = [str(name)[:60] for name in posted.getlist("events")][:20]
    key = str(posted.get("key", ""))[:64] or _key()
    try:
        answer = await webhooks.add_endpoint(
            node.db,
            node.secrets,
            url=url,
            events=events,
            idempotency_key=f"admin-ui:{key}",
            now=node.clock.now(),
        )
    except (ValidationFailed, Conflict) as exc:
        field = "url" if exc.field == "url" else "events"
        return View(
            webhooks_context(
                await _endpoints(call),
                can_manage=True,
                url=url,
                events=events,
                errors={field: exc.message},
                key=key,
            ),
            status=exc.http_status,
        )
    return View(webhooks_context(await _endpoints(call), can_manage=True, added=answer.body))


async def disable_webhook(call: PageCall) -> Response:
    node = call.node
    endpoint_id = str(call.request.path_params["endpoint_id"])
    if len(endpoint_id) > 40:
        raise NotFound("no such webhook", field="id")
    await webhooks.disable_endpoint(
        node.db,
        endpoint_id=endpoint_id,
        idempotency_key=f"admin-ui:disable:{endpoint_id}",
        now=node.clock.now(),
    )
    target = call.request.url_for("program_webhooks").path
    return RedirectResponse(target, status_code=303)


PAGES = [
    Page(
        "/program/webhooks",
        "program_webhooks",
        webhooks_page,
        action="program.view",
        template="staff/program_webhooks.html",
    ),
    Page(
        "/program/webhooks/add",
        "program_webhook_add",
        add_webhook,
        action="program.manage",
        template="staff/program_webhooks.html",
        methods=("POST",),
    ),
    Page(
        "/program/webhooks/{endpoint_id}/disable",
        "program_webhook_disable",
        disable_webhook,
        action="program.manage",
        methods=("POST",),
    ),
]
