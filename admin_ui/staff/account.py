"""My account: a staff member changes their own password and sets up or removes
a TOTP second factor (node.services.staff_account).

Each change ends the user's other sessions at once; this browser stays signed
in. TOTP enrolment shows the otpauth URI, its secret and a QR code (SVG) and
stores nothing until a code from the app confirms it. Every role sees the
page (``home.view``); changing needs ``account.manage``, which auditors do
not have (they only read; an operator changes an auditor's account).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.responses import RedirectResponse, Response

from admin_ui.i18n import N_
from admin_ui.pages import Page, PageCall, View
from admin_ui.permissions import allowed
from admin_ui.sessions import STAFF_COOKIE, unsign
from node.errors import Conflict, ValidationFailed
from node.services import staff, staff_account
from node.services.staff_account import TotpEnrolment

DONE_MESSAGES = {
    "password": N_("Your password is changed. Your other sessions have ended."),
    "totp": N_("Your second factor is on. Your other sessions have ended."),
    "totp_off": N_("Your second factor is off. Your other sessions have ended."),
}

#: What went wrong, by the field (or error code) the service names, as the user reads it.
ERROR_MESSAGES = {
    "current_password": N_("That is not your current password."),
    "new_password": N_("Use at least 12 characters (and at most 1024)."),
    "repeat_password": N_("The two new passwords differ."),
    "code": N_("That code does not match. Try the next code from your app."),
    "pending": N_("This set-up is not valid. Start again."),
    "totp_required": N_("This node requires a second factor for privacy officers."),
    "no_totp": N_("Your account has no second factor."),
}


def account_context(
    account: staff.StaffAccount,
    *,
    role_label: str,
    can_manage: bool,
    may_disable_totp: bool,
    enrolment: TotpEnrolment | None = None,
    errors: dict[str, str] | None = None,
    done: str | None = None,
    gettext: Callable[[str], str] = str,
) -> dict[str, Any]:
    return {
        "account": account,
        "role_label": role_label,
        "can_manage": can_manage,
        "may_disable_totp": may_disable_totp,
        "enrolment": enrolment,
        "errors": errors or {},
        "done": gettext(DONE_MESSAGES[done]) if done in DONE_MESSAGES else None,
    }


def _context(call: PageCall, **kwargs: Any) -> dict[str, Any]:
    from admin_ui.staff.users import ROLE_LABELS

    account = call.staff
    assert account is not None
    return account_context(
        account,
        role_label=call.gettext(ROLE_LABELS[account.role]),
        can_manage=allowed(account.role, "account.manage"),
        may_disable_totp=staff_account.may_disable_totp(call.node.settings, account.role),
        gettext=call.gettext,
        **kwargs,
    )


def _token(call: PageCall) -> str | None:
    return unsign(call.node.secrets, call.request.cookies.get(STAFF_COOKIE))


def _done(call: PageCall, what: str) -> Response:
    return RedirectResponse(call.request.url_for("account").path + f"?done={what}", 303)


async def account_page(call: PageCall) -> View:
    return View(_context(call, done=call.request.query_params.get("done")))


async def change_password(call: PageCall) -> View | Response:
    assert call.staff is not None
    form = await call.form()
    new = str(form.get("new_password", ""))
    if new != str(form.get("repeat_password", "")):
        errors = {"repeat_password": call.gettext(ERROR_MESSAGES["repeat_password"])}
        return View(_context(call, errors=errors), status=422)
    node = call.node
    try:
        await call.run(
            staff_account.change_own_password,
            node.db,
            user_id=call.staff.id,
            current=str(form.get("current_password", "")),
            new=new,
            keep_token=_token(call),
            now=node.clock.now(),
        )
    except ValidationFailed as exc:
        field = "current_password" if exc.field == "current_password" else "new_password"
        errors = {field: call.gettext(ERROR_MESSAGES[field])}
        return View(_context(call, errors=errors), status=exc.http_status)
    return _done(call, "password")


async def start_totp(call: PageCall) -> View:
    assert call.staff is not None
    node = call.node
    enrolment = await call.run(
        staff_account.start_totp_enrolment,
        node.db,
        node_secrets=node.secrets,
        user_id=call.staff.id,
    )
    return View(_context(call, enrolment=enrolment))


async def confirm_totp(call: PageCall) -> View | Response:
    assert call.staff is not None
    form = await call.form()
    pending = str(form.get("pending", ""))[:400]
    node = call.node
    try:
        await call.run(
            staff_account.confirm_totp,
            node.db,
            node_secrets=node.secrets,
            user_id=call.staff.id,
            pending=pending,
            code=str(form.get("code", ""))[:12],
            keep_token=_token(call),
            now=node.clock.now(),
        )
    except ValidationFailed as exc:
        enrolment = None
        if exc.field == "code":
            enrolment = await call.run(
                staff_account.pending_enrolment,
                node.db,
                node_secrets=node.secrets,
                user_id=call.staff.id,
                pending=pending,
            )
        message = call.gettext(ERROR_MESSAGES["code" if enrolment else "pending"])
        errors = {"code" if enrolment else "totp": message}
        return View(_context(call, enrolment=enrolment, errors=errors), status=exc.http_status)
    return _done(call, "totp")


async def disable_totp(call: PageCall) -> View | Response:
    assert call.staff is not None
    form = await call.form()
    node = call.node
    try:
        await call.run(
            staff_account.disable_totp,
            node.db,
            node_secrets=node.secrets,
            settings=node.settings,
            user_id=call.staff.id,
            code=str(form.get("disable_code", ""))[:12],
            keep_token=_token(call),
            now=node.clock.now(),
        )
    except (ValidationFailed, Conflict) as exc:
        message = call.gettext(ERROR_MESSAGES.get(exc.code, ERROR_MESSAGES["code"]))
        return View(_context(call, errors={"disable_code": message}), status=exc.http_status)
    return _done(call, "totp_off")


def _post(path: str, name: str, handler: Any) -> Page:
    return Page(
        path,
        name,
        handler,
        action="account.manage",
        template="staff/account.html",
        methods=("POST",),
    )


PAGES = [
    Page(
        "/account",
        "account",
        account_page,
        action="home.view",
        template="staff/account.html",
        nav=N_("My account"),
    ),
    _post("/account/password", "account_password", change_password),
    _post("/account/totp", "account_totp_start", start_totp),
    _post("/account/totp/confirm", "account_totp_confirm", confirm_totp),
    _post("/account/totp/disable", "account_totp_disable", disable_totp),
]
