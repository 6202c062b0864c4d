"""Sign-in, sign-out, the start page and the language switch of /admin."""

from __future__ import annotations

from typing import Any

from starlette.responses import RedirectResponse, Response

from admin_ui.i18n import LANG_COOKIE, LOCALES, N_
from admin_ui.pages import Page, PageCall, View, local_target
from admin_ui.sessions import STAFF_COOKIE, clear_session_cookie, set_session_cookie, sign, unsign
from node.services import staff


def _client_address(call: PageCall) -> str:
    return call.request.client.host if call.request.client else "unknown"


def login_context(
    *, username: str = "", next_path: str = "", error: str | None = None
) -> dict[str, Any]:
    """The sign-in form: what was typed (never the password) and what went wrong."""
    return {"username": username, "next": next_path, "error": error}


async def login_form(call: PageCall) -> View | Response:
    next_path = local_target(call.request.query_params.get("next"), "")
    if call.staff is not None:
        return RedirectResponse(next_path or call.request.url_for("home").path, status_code=303)
    return View(login_context(next_path=next_path))


async def login(call: PageCall) -> View | Response:
    form = await call.form()
    username = str(form.get("username", ""))[:64]
    next_path = local_target(str(form.get("next", "")), "")
    node = call.node
    try:
        signed_in = await call.run(
            staff.sign_in,
            node.db,
            node_secrets=node.secrets,
            settings=node.settings,
            username=username,
            password=str(form.get("password", "")),
            totp_code=str(form.get("code", "")),
            address=_client_address(call),
            now=node.clock.now(),
        )
    except staff.TooManyAttempts as exc:
        message = call.gettext(
            "Too many failed sign-ins. Wait %(minutes)d minutes and try again."
        ) % {"minutes": exc.retry_after_minutes}
        return View(
            login_context(username=username, next_path=next_path, error=message), status=429
        )
    except staff.SignInRefused as exc:
        message = (
            call.gettext("This account needs a second factor. Ask an operator to set one up.")
            if exc.code == "totp_required"
            else call.gettext("Wrong username, password or code.")
        )
        return View(
            login_context(username=username, next_path=next_path, error=message), status=401
        )
    response = RedirectResponse(next_path or call.request.url_for("home").path, status_code=303)
    set_session_cookie(
        response,
        call.request,
        name=STAFF_COOKIE,
        value=sign(node.secrets, signed_in.token),
        path="/admin",
        max_age=node.settings.admin_session_absolute_hours * 3600,
    )
    return response


async def logout(call: PageCall) -> Response:
    token = unsign(call.node.secrets, call.request.cookies.get(STAFF_COOKIE))
    if token is not None:
        await call.run(staff.end_session, call.node.db, token=token, now=call.node.clock.now())
    response = RedirectResponse(call.request.url_for("login").path, status_code=303)
    clear_session_cookie(response, call.request, name=STAFF_COOKIE, path="/admin")
    return response


def home_context(account: staff.StaffAccount, *, role_label: str) -> dict[str, Any]:
    return {"account": account, "role_label": role_label}


async def home(call: PageCall) -> View:
    from admin_ui.staff.users import ROLE_LABELS

    assert call.staff is not None
    return View(home_context(call.staff, role_label=call.gettext(ROLE_LABELS[call.staff.role])))


async def switch_language(call: PageCall) -> Response:
    """Remember the chosen language in a cookie and go back to the page."""
    form = await call.form()
    chosen = str(form.get("lang", ""))
    target = local_target(str(form.get("next", "")), "/")
    response = RedirectResponse(target, status_code=303)
    if chosen in LOCALES:
        response.set_cookie(
            LANG_COOKIE, chosen, max_age=365 * 86400, path="/", samesite="lax", httponly=True
        )
    return response


PAGES = [
    Page("/", "home", home, action="home.view", template="staff/home.html", nav=N_("Start")),
    Page("/login", "login", login_form, auth="public", template="staff/login.html"),
    Page(
        "/login",
        "login_submit",
        login,
        auth="public",
        template="staff/login.html",
        methods=("POST",),
    ),
    Page("/logout", "logout", logout, auth="public", methods=("POST",)),
    Page("/language", "language", switch_language, auth="public", methods=("POST",)),
]
