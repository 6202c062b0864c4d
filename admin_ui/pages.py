"""How an admin UI or portal page is declared once and gets auth, permission,
audit, CSRF-safe forms, errors and rendering.

A page module lists :class:`Page` objects (like node.routes.endpoint's
Endpoint). A Page names its path, methods, the route name used by
``url()``, who may open it (``auth``: "staff" with a permission ``action``
from admin_ui.permissions, "member" for the portal, "public"), its template,
and whether it shows a customer's personal data.

The handler gets a :class:`PageCall` and returns a :class:`View` (a template
and its context) or a Starlette Response (a redirect, an image). When
``personal_data`` is true the View must name the ``customer_id`` it shows,
and this module writes the audit entry (``audit.record_txn`` with actor
``staff:<user id>``, the page's ``audit_action`` and purpose) before the page
is sent: one mechanism for every page, never a call per page.

Unsigned-in staff are sent to the sign-in page (GET) or refused (other
methods); a role without the page's action gets 403. Errors raised by the
service layer become an error page with their status; validation errors
that belong to a form are caught by the handler, which re-renders the form
with the user's input and the message next to the field.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from admin_ui import i18n, permissions
from admin_ui.rendering import render
from admin_ui.sessions import MEMBER_COOKIE, STAFF_COOKIE, unsign
from node.context import NodeContext
from node.errors import KonsortError
from node.services import audit, staff
from node.services.staff import StaffAccount

log = logging.getLogger("konsort.admin_ui")

PageAuth = Literal["staff", "member", "public"]

audit.register_action("page.view", "staff opened an admin UI page showing a customer's data")


@dataclass
class PageCall:
    """What a page handler gets."""

    request: Request
    node: NodeContext
    locale: str
    staff: StaffAccount | None = None
    customer_id: str | None = None
    _form: FormData | None = None

    async def form(self) -> FormData:
        if self._form is None:
            self._form = await self.request.form(max_files=0, max_fields=100)
        return self._form

    async def run(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run blocking service code off the event loop."""
        return await run_in_threadpool(func, *args, **kwargs)

    def gettext(self, message: str) -> str:
        return i18n.translations(self.locale).gettext(message)


@dataclass
class View:
    """A template to render with its context (the handler builds it from a pure function)."""

    context: Mapping[str, Any]
    template: str | None = None
    status: int = 200
    #: The customer whose personal data the page shows (pages with personal_data=True).
    customer_id: str | None = None
    purpose: str | None = None


@dataclass
class Download:
    """A file the page sends; with ``personal_data`` the download is audited like a view."""

    content: bytes
    filename: str
    media_type: str
    #: The customer whose personal data the file holds (pages with personal_data=True).
    customer_id: str | None = None
    purpose: str | None = None

    def response(self) -> Response:
        return Response(
            self.content,
            media_type=self.media_type,
            headers={"Content-Disposition": f'attachment; filename="{self.filename}"'},
        )


Handler = Callable[[PageCall], Awaitable[View | Download | Response]]


@dataclass(frozen=True)
class Page:
    path: str
    name: str
    handler: Handler
    auth: PageAuth = "staff"
    #: The permission (admin_ui.permissions.ACTIONS) a staff page needs.
    action: str | None = None
    template: str | None = None
    methods: tuple[str, ...] = ("GET",)
    #: A navigation label (marked with N_) to list the page in the menu.
    nav: str | None = None
    personal_data: bool = False
    audit_action: str = "page.view"
    purpose: str = "customer_service"
    extra: Mapping[str, Any] = field(default_factory=dict)
    #: Audit every view or download even though it holds no one customer's data
    #: (the bookkeeper's exports): the entry has no customer id.
    audited: bool = False

    def __post_init__(self) -> None:
        if self.auth == "staff" and self.action not in permissions.ACTIONS:
            raise ValueError(f"staff page {self.name} needs an action from the permission table")
        if (self.personal_data or self.audited) and self.audit_action not in audit.ACTIONS:
            raise ValueError(f"page {self.name}: unknown audit action {self.audit_action}")

    def route(self, registry: PageRegistry) -> Route:
        async def endpoint(request: Request) -> Response:
            return await serve(self, request, registry)

        return Route(self.path, endpoint, methods=list(self.methods), name=self.name)


@dataclass(frozen=True)
class PageRegistry:
    """The pages of one mounted app, for the navigation and for tests."""

    pages: tuple[Page, ...]
    sign_in_route: str
    cookie: str

    def navigation(self, account: StaffAccount | None) -> list[tuple[str, str]]:
        """(route name, label) of the pages in the menu that the account may open."""
        if account is None:
            return []
        return [
            (page.name, page.nav)
            for page in self.pages
            if page.nav
            and page.action is not None
            and permissions.allowed(account.role, page.action)
        ]


def _page_response(page: Page, call: PageCall, registry: PageRegistry, view: View) -> Response:
    template = view.template or page.template
    if template is None:
        raise ValueError(f"page {page.name} returned a View without a template")
    context = {
        "staff": call.staff,
        "member": call.customer_id,
        "navigation": registry.navigation(call.staff),
        "page_name": page.name,
        "node_name": call.node.settings.display_name,
        **view.context,
    }
    return render(call.request, template, context, locale=call.locale, status=view.status)


def error_page(call: PageCall, status: int, message: str) -> Response:
    return render(
        call.request,
        "error.html",
        {
            "status": status,
            "message": message,
            "staff": call.staff,
            "member": call.customer_id,
            "navigation": [],
            "node_name": call.node.settings.display_name,
        },
        locale=call.locale,
        status=status,
    )


async def _authenticate(page: Page, call: PageCall, registry: PageRegistry) -> Response | None:
    node = call.node
    token = unsign(node.secrets, call.request.cookies.get(registry.cookie))
    if page.auth == "staff":
        if token is not None:
            call.staff = await call.run(
                staff.session_account,
                node.db,
                token=token,
                settings=node.settings,
                now=node.clock.now(),
            )
        if call.staff is None:
            if call.request.method == "GET":
                target = call.request.url.path
                if call.request.url.query:
                    target += "?" + call.request.url.query
                login = call.request.url_for(registry.sign_in_route).path
                return RedirectResponse(f"{login}?next={quote(target)}", status_code=303)
            return error_page(call, 401, call.gettext("Please sign in again."))
        assert page.action is not None
        if not permissions.allowed(call.staff.role, page.action):
            return error_page(call, 403, call.gettext("Your role may not open this page."))
    elif page.auth == "member":
        if token is not None:
            call.customer_id = await call.run(
                staff.portal_customer, node.db, token=token, now=node.clock.now()
            )
        if call.customer_id is None:
            return error_page(
                call,
                401,
                call.gettext("Please sign in through the link from the shop."),
            )
    elif token is not None and registry.cookie == STAFF_COOKIE:
        # Public pages (sign-in) still know who is signed in.
        call.staff = await call.run(
            staff.session_account,
            node.db,
            token=token,
            settings=node.settings,
            now=node.clock.now(),
        )
    elif token is not None and registry.cookie == MEMBER_COOKIE:
        call.customer_id = await call.run(
            staff.portal_customer, node.db, token=token, now=node.clock.now()
        )
    return None


def _record_view(page: Page, call: PageCall, view: View | Download) -> None:
    """The one place a page's display of personal data is audited."""
    if view.customer_id is None and page.personal_data:
        raise ValueError(f"page {page.name} shows personal data but named no customer")
    assert call.staff is not None
    node = call.node
    with node.db.transaction() as session:
        audit.record_txn(
            session=session,
            actor=f"staff:{call.staff.id}",
            action=page.audit_action,
            customer_id=view.customer_id,
            purpose=view.purpose or page.purpose,
            now=node.clock.now(),
            detail={"page": page.name},
        )


async def serve(page: Page, request: Request, registry: PageRegistry) -> Response:
    node: NodeContext = request.app.state.node
    call = PageCall(request, node, i18n.request_locale(request))
    try:
        refused = await _authenticate(page, call, registry)
        if refused is not None:
            return refused
        result = await page.handler(call)
        if isinstance(result, Response):
            return result
        if page.personal_data or page.audited:
            await call.run(_record_view, page, call, result)
        if isinstance(result, Download):
            return result.response()
        return _page_response(page, call, registry, result)
    except KonsortError as exc:
        return error_page(call, exc.http_status, exc.message)
    except Exception:
        log.exception("admin UI page failed", extra={"route": page.path})
        return error_page(call, 500, call.gettext("Something went wrong on our side."))


def local_target(value: str | None, default: str) -> str:
    """A redirect target from a form or query: a path on this site, or ``default``."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return default
