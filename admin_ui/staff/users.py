"""Staff users: the list (operators and auditors), the create form, and an
operator's changes to another user: role, disable, reset the second factor
(node.services.staff_account), each ending that user's sessions at once. A
TOTP reset shows the new set-up link and QR code once, to hand over.

The form pattern for the pages to come: on a validation error the form is
shown again with what the user typed (never a password) and the message
next to its field.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from starlette.responses import RedirectResponse, Response

from admin_ui.i18n import N_
from admin_ui.pages import Page, PageCall, View
from admin_ui.permissions import allowed
from node.errors import Conflict, KonsortError, NotFound, ValidationFailed
from node.services import staff, staff_account
from node.store.staff_models import ROLES

ROLE_LABELS = {
    "operator": N_("Operator"),
    "privacy_officer": N_("Privacy officer"),
    "auditor": N_("Auditor"),
}


CHANGE_MESSAGES = {
    "role": N_("Changed the role of %(username)s; their sessions have ended."),
    "disabled": N_("Disabled %(username)s; their sessions have ended."),
}
MANAGE_ERRORS = {
    "own_account": N_("You cannot change your own role or status here. Ask another operator."),
    "not_found": N_("There is no such staff user."),
    "validation_failed": N_("Choose one of the roles."),
}


def users_context(
    users: list[staff.StaffAccount],
    *,
    can_manage: bool,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    created: str | None = None,
    gettext: Callable[[str], str] = str,
    self_id: str = "",
    changed: str | None = None,
    manage_error: str | None = None,
    reset: dict[str, str] | None = None,
) -> dict[str, Any]:
    labels = {role: gettext(label) for role, label in ROLE_LABELS.items()}
    return {
        "users": users,
        "roles": [(role, labels[role]) for role in ROLES],
        "role_labels": labels,
        "can_manage": can_manage,
        "form": form or {"username": "", "display_name": "", "role": "operator"},
        "errors": errors or {},
        "created": created,
        "self_id": self_id,
        "changed": changed,
        "manage_error": manage_error,
        "reset": reset,
    }


async def _users_view(call: PageCall, status: int = 200, **kwargs: Any) -> View:
    assert call.staff is not None
    users = await call.run(staff.list_users, call.node.db)
    context = users_context(
        users,
        can_manage=allowed(call.staff.role, "staff.manage"),
        gettext=call.gettext,
        self_id=call.staff.id,
        **kwargs,
    )
    return View(context, template="staff/users.html", status=status)


async def users_page(call: PageCall) -> View:
    query = call.request.query_params
    what, username = query.get("changed", ""), query.get("user", "")[:64]
    changed = None
    if what in CHANGE_MESSAGES and username:
        changed = call.gettext(CHANGE_MESSAGES[what]) % {"username": username}
    return await _users_view(call, created=query.get("created"), changed=changed)


def _username(call: PageCall) -> str:
    return str(call.request.path_params["username"])[:64]


def _refused(call: PageCall, exc: KonsortError) -> Awaitable[View]:
    message = call.gettext(MANAGE_ERRORS.get(exc.code, MANAGE_ERRORS["not_found"]))
    return _users_view(call, status=exc.http_status, manage_error=message)


def _changed(call: PageCall, what: str, username: str) -> Response:
    target = call.request.url_for("users").path + f"?changed={what}&user={quote(username)}"
    return RedirectResponse(target, status_code=303)


async def change_role(call: PageCall) -> View | Response:
    assert call.staff is not None
    form = await call.form()
    username, node = _username(call), call.node
    try:
        await call.run(
            staff_account.set_role_by,
            node.db,
            actor_id=call.staff.id,
            username=username,
            role=str(form.get("role", ""))[:20],
            now=node.clock.now(),
        )
    except (ValidationFailed, Conflict, NotFound) as exc:
        return await _refused(call, exc)
    return _changed(call, "role", username)


async def disable(call: PageCall) -> View | Response:
    assert call.staff is not None
    username, node = _username(call), call.node
    try:
        await call.run(
            staff_account.disable_user_by,
            node.db,
            actor_id=call.staff.id,
            username=username,
            now=node.clock.now(),
        )
    except (Conflict, NotFound) as exc:
        return await _refused(call, exc)
    return _changed(call, "disabled", username)


async def reset_totp(call: PageCall) -> View:
    """A new second factor for another user, shown once on this answer (never stored in
    the page's address or the log)."""
    assert call.staff is not None
    username, node = _username(call), call.node
    try:
        enrolment = await call.run(
            staff_account.reset_totp_by,
            node.db,
            node_secrets=node.secrets,
            actor_id=call.staff.id,
            username=username,
            now=node.clock.now(),
        )
    except (Conflict, NotFound) as exc:
        return await _refused(call, exc)
    reset = {
        "username": username,
        "uri": enrolment.uri,
        "secret": enrolment.secret,
        "qr_svg": enrolment.qr_svg,
    }
    return await _users_view(call, reset=reset)


async def create_user(call: PageCall) -> View | Response:
    form = await call.form()
    typed = {
        "username": str(form.get("username", ""))[:64],
        "display_name": str(form.get("display_name", ""))[:120],
        "role": str(form.get("role", "")),
    }
    node = call.node
    try:
        created = await call.run(
            staff.create_user,
            node.db,
            node_secrets=node.secrets,
            username=typed["username"],
            display_name=typed["display_name"],
            role=typed["role"],
            password=str(form.get("password", "")),
            totp=False,
            now=node.clock.now(),
        )
    except (ValidationFailed, Conflict) as exc:
        users = await call.run(staff.list_users, node.db)
        field = exc.field or "username"
        return View(
            users_context(
                users,
                can_manage=True,
                form=typed,
                errors={field: exc.message},
                gettext=call.gettext,
            ),
            status=exc.http_status,
        )
    target = call.request.url_for("users").path + f"?created={created.account.username}"
    return RedirectResponse(target, status_code=303)


PAGES = [
    Page(
        "/users",
        "users",
        users_page,
        action="staff.view",
        template="staff/users.html",
        nav=N_("Staff users"),
    ),
    Page(
        "/users",
        "users_create",
        create_user,
        action="staff.manage",
        template="staff/users.html",
        methods=("POST",),
    ),
    Page(
        "/users/{username}/role",
        "users_role",
        change_role,
        action="staff.manage",
        template="staff/users.html",
        methods=("POST",),
    ),
    Page(
        "/users/{username}/disable",
        "users_disable",
        disable,
        action="staff.manage",
        template="staff/users.html",
        methods=("POST",),
    ),
    Page(
        "/users/{username}/totp-reset",
        "users_totp_reset",
        reset_totp,
        action="staff.manage",
        template="staff/users.html",
        methods=("POST",),
    ),
]
