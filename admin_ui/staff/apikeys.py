"""Operator API keys: the list (name, prefix, created, revoked), a new key and revoking.

A new key's secret is shown once, on the page that answers the form, and is
never stored (only its SHA-256 digest is): afterwards the list shows only the
key's prefix ``ksk_<key id>_``. The form carries a one-time key, so a double
submit creates one API key; the repeat says so instead of showing a secret.
Revoking takes effect at once in this process (the key cache forgets it) and
within ``api_key_cache_seconds`` in others.
"""

from __future__ import annotations

import uuid
from typing import Any

from starlette.responses import RedirectResponse, Response

from admin_ui.i18n import N_
from admin_ui.pages import Page, PageCall, View
from admin_ui.permissions import allowed
from node.errors import NotFound, ValidationFailed
from node.services import apikeys
from node.services.idempotency import run_idempotent_async
from node.store.models import ApiKey


def _key() -> str:
    return uuid.uuid4().hex


def key_view(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "name": key.name,
        "prefix": apikeys.key_prefix(key.id),
        "created_at": key.created_at,
        "revoked_at": key.revoked_at,
    }


def apikeys_context(
    keys: list[dict[str, Any]],
    *,
    can_manage: bool,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    key: str = "",
    done: str | None = None,
) -> dict[str, Any]:
    return {
        "keys": keys,
        "can_manage": can_manage,
        "form": {"name": "", **(form or {})},
        "errors": errors or {},
        "key": key or _key(),
        "done": done,
    }


def created_context(created: dict[str, Any], *, token: str | None) -> dict[str, Any]:
    """The answer to the form: the secret once (``token``), or None for a repeat."""
    return {"created": created, "token": token}


async def _keys(call: PageCall) -> list[dict[str, Any]]:
    found = await call.run(apikeys.list_api_keys, call.node.db)
    return [key_view(key) for key in sorted(found, key=lambda k: k.created_at, reverse=True)]


async def apikeys_page(call: PageCall) -> View:
    assert call.staff is not None
    return View(
        apikeys_context(
            await _keys(call),
            can_manage=allowed(call.staff.role, "apikeys.manage"),
            done=call.request.query_params.get("done"),
        )
    )


async def create_key(call: PageCall) -> View:
    """Create a key once per form key; show its secret this once."""
    posted = await call.form()
    name = str(posted.get("name", ""))[: apikeys.MAX_NAME + 50]
    key = str(posted.get("key", ""))[:64] or _key()
    try:
        unit, token = apikeys.create_api_key_unit(
            name=name, idempotency_key=f"admin-ui:{key}", now=call.node.clock.now()
        )
        answer = await run_idempotent_async(call.node.db, unit)
    except ValidationFailed:
        context = apikeys_context(
            await _keys(call),
            can_manage=True,
            form={"name": name},
            errors={"name": call.gettext("Give the key a name of 1 to 100 characters.")},
            key=key,
        )
        return View(context, template="staff/apikeys.html", status=422)
    return View(
        created_context(answer.body, token=None if answer.replayed else token),
        status=200 if answer.replayed else 201,
    )


async def revoke_key(call: PageCall) -> Response:
    key_id = str(call.request.path_params["key_id"])[:40]
    node = call.node
    try:
        await call.run(apikeys.revoke_api_key, node.db, key_id=key_id, now=node.clock.now())
    except NotFound:
        # Revoked already (a double submit) is done; an unknown id is not.
        known = {key.id: key for key in await call.run(apikeys.list_api_keys, node.db)}
        if key_id not in known:
            raise
    node.api_keys.forget(key_id)
    target = call.request.url_for("apikeys").path
    return RedirectResponse(f"{target}?done=revoked", status_code=303)


PAGES = [
    Page(
        "/apikeys",
        "apikeys",
        apikeys_page,
        action="apikeys.view",
        template="staff/apikeys.html",
        nav=N_("API keys"),
    ),
    Page(
        "/apikeys",
        "apikeys_create",
        create_key,
        action="apikeys.manage",
        template="staff/apikeys_created.html",
        methods=("POST",),
    ),
    Page(
        "/apikeys/{key_id}/revoke",
        "apikeys_revoke",
        revoke_key,
        action="apikeys.manage",
        methods=("POST",),
    ),
]
