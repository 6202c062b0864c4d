"""The mounted apps: staff pages at /admin, the member portal at /me.

Each is a small Starlette app wrapped in the CSRF check and the security
headers, so the node's JSON API is untouched by either. Static files (the
stylesheet) are served at /admin/static with a year's cache; their URLs
carry a content hash (rendering.static_url).
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from admin_ui.csrf import CsrfMiddleware
from admin_ui.pages import Page, PageRegistry
from admin_ui.portal import PORTAL_PAGES
from admin_ui.rendering import STATIC
from admin_ui.security import SecurityHeadersMiddleware
from admin_ui.sessions import MEMBER_COOKIE, STAFF_COOKIE
from admin_ui.staff import STAFF_PAGES
from node.context import NodeContext


class CachedStaticFiles(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response


def _app(node: NodeContext, routes: list[BaseRoute]) -> Starlette:
    app = Starlette(
        routes=routes,
        middleware=[Middleware(SecurityHeadersMiddleware), Middleware(CsrfMiddleware)],
    )
    app.state.node = node
    return app


def staff_app(node: NodeContext, pages: Sequence[Page] = STAFF_PAGES) -> Starlette:
    registry = PageRegistry(tuple(pages), sign_in_route="login", cookie=STAFF_COOKIE)
    routes: list[BaseRoute] = [page.route(registry) for page in pages]
    routes.append(Mount("/static", app=CachedStaticFiles(directory=STATIC), name="static"))
    app = _app(node, routes)
    app.state.registry = registry
    return app


def portal_app(node: NodeContext, pages: Sequence[Page] = PORTAL_PAGES) -> Starlette:
    registry = PageRegistry(tuple(pages), sign_in_route="portal_signed_out", cookie=MEMBER_COOKIE)
    app = _app(node, [page.route(registry) for page in pages])
    app.state.registry = registry
    return app


def ui_routes(node: NodeContext) -> list[BaseRoute]:
    """What the node's create_app mounts."""
    return [Mount("/admin", app=staff_app(node)), Mount("/me", app=portal_app(node))]
