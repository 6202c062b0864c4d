"""The member portal's sign-in through a one-time link, its start page and sign-out.

GET /me/signin/{token} shows a button; only the POST it sends uses the link
(so a mail scanner or link preview that fetches the URL does not burn it).
"""

from __future__ import annotations

from starlette.responses import RedirectResponse, Response

from admin_ui.pages import Page, PageCall, View
from admin_ui.sessions import (
    MEMBER_COOKIE,
    clear_session_cookie,
    set_session_cookie,
    sign,
    unsign,
)
from admin_ui.staff.auth import switch_language
from node.services import staff


async def signin_form(call: PageCall) -> View:
    return View({"token": call.request.path_params["token"]})


async def signin(call: PageCall) -> View | Response:
    node = call.node
    try:
        signed_in = await call.run(
            staff.redeem_portal_link,
            node.db,
            token=call.request.path_params["token"],
            session_minutes=node.settings.portal_session_minutes,
            now=node.clock.now(),
        )
    except staff.SignInRefused:
        return View(
            {
                "status": 410,
                "message": call.gettext(
                    "This sign-in link has expired or was already used. Ask the shop for a new one."
                ),
            },
            template="error.html",
            status=410,
        )
    response = RedirectResponse(call.request.url_for("portal_home").path, status_code=303)
    set_session_cookie(
        response,
        call.request,
        name=MEMBER_COOKIE,
        value=sign(node.secrets, signed_in.token),
        path="/me",
        max_age=node.settings.portal_session_minutes * 60,
    )
    return response


async def signout(call: PageCall) -> Response:
    token = unsign(call.node.secrets, call.request.cookies.get(MEMBER_COOKIE))
    if token is not None:
        await call.run(
            staff.end_portal_session, call.node.db, token=token, now=call.node.clock.now()
        )
    response = RedirectResponse(call.request.url_for("portal_signed_out").path, status_code=303)
    clear_session_cookie(response, call.request, name=MEMBER_COOKIE, path="/me")
    return response


async def signed_out(call: PageCall) -> View:
    return View({})


PAGES = [
    Page(
        "/signin/{token}",
        "portal_signin",
        signin_form,
        auth="public",
        template="portal/signin.html",
    ),
    Page(
        "/signin/{token}",
        "portal_signin_submit",
        signin,
        auth="public",
        template="portal/signin.html",
        methods=("POST",),
    ),
    Page("/signout", "portal_signout", signout, auth="public", methods=("POST",)),
    Page(
        "/signed-out",
        "portal_signed_out",
        signed_out,
        auth="public",
        template="portal/signed_out.html",
    ),
    Page("/language", "portal_language", switch_language, auth="public", methods=("POST",)),
]
