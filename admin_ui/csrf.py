"""Cross-site request forgery protection for every unsafe request.

The approach of Datasette's csrf.py and Warehouse: a browser says where a
request comes from. A POST (or any method but GET, HEAD, OPTIONS) is let
through only when

1. ``Sec-Fetch-Site`` is ``same-origin`` (or ``none``: the user typed it), or,
   when a browser sends no Sec-Fetch-Site,
2. ``Origin`` equals the request's own scheme://host[:port], or, without
   Origin, ``Referer`` starts with it.

Anything else (cross-site, same-site but another origin, no header at all)
gets 403. The session cookies are SameSite=Strict as well, so a forged
request would arrive without a session anyway. No token in forms is needed.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def own_origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}".lower()


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def is_same_origin(request: Request) -> bool:
    """Did this request come from a page of this node?"""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is not None:
        return origin.lower() == own_origin(request)
    referer = request.headers.get("referer")
    if referer:
        return _origin_of(referer) == own_origin(request)
    return False


class CsrfMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            request = Request(scope)
            if not is_same_origin(request):
                response = PlainTextResponse(
                    "Refused: this form was not sent from a page of this site (CSRF check).",
                    status_code=403,
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
