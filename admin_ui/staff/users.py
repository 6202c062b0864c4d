"""Staff users: the list (operators and auditors) and the create form (operators).

The form pattern for the pages to come: on a validation error the form is
shown again with what the user typed (never a password) and the message
next to its field.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.responses import RedirectResponse, Response

from admin_ui.i18n import N_
from admin_ui.pages import Page, PageCall, View
from admin_ui.permissions import allowed
from node.errors import Conflict, ValidationFailed
from node.services import staff
from node.store.staff_models import ROLES

ROLE_LABELS = {
    "operator": N_("Operator"),
    "privacy_officer": N_("Privacy officer"),
    "auditor": N_("Auditor"),
}


def users_context(
    users: list[staff.StaffAccount],
    *,
    can_manage: bool,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    created: str | None = None,
    gettext: Callable[[str], str] = str,
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
    }


async def users_page(call: PageCall) -> View:
    assert call.staff is not None
    users = await call.run(staff.list_users, call.node.db)
    return View(
        users_context(
            users,
            can_manage=allowed(call.staff.role, "staff.manage"),
            created=call.request.query_params.get("created"),
            gettext=call.gettext,
        )
    )


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
]
