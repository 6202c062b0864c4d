"""Session cookies of the admin UI (``konsort_staff``) and the portal (``konsort_member``).

The cookie value is ``<token>.<signature>``: the random token whose SHA-256
digest names the server-side session row (node.services.staff), and an
HMAC-SHA256 of it under a key derived from the node's master key, so a
tampered cookie is refused before any database read. Cookies are HttpOnly,
SameSite=Strict, scoped to their mount path, and Secure unless the node is
reached on a loopback address (where plain http is the norm in development).
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from starlette.requests import Request
from starlette.responses import Response

from node.secrets import NodeSecrets

STAFF_COOKIE = "konsort_staff"
MEMBER_COOKIE = "konsort_member"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]", "testserver"})


def _cookie_key(node_secrets: NodeSecrets) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"konsort/admin-cookies"
    ).derive(node_secrets.master_key)


def _signature(node_secrets: NodeSecrets, token: str) -> str:
    return hmac.new(_cookie_key(node_secrets), token.encode(), hashlib.sha256).hexdigest()


def sign(node_secrets: NodeSecrets, token: str) -> str:
    return f"{token}.{_signature(node_secrets, token)}"


def unsign(node_secrets: NodeSecrets, value: str | None) -> str | None:
    """The token of a well-signed cookie value, or None."""
    if not value or "." not in value:
        return None
    token, _, signature = value.rpartition(".")
    if not hmac.compare_digest(signature, _signature(node_secrets, token)):
        return None
    return token


def secure_cookies(request: Request) -> bool:
    return (request.url.hostname or "") not in LOOPBACK


def set_session_cookie(
    response: Response,
    request: Request,
    *,
    name: str,
    value: str,
    path: str,
    max_age: int,
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=path,
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request),
    )


def clear_session_cookie(response: Response, request: Request, *, name: str, path: str) -> None:
    response.delete_cookie(
        name, path=path, httponly=True, samesite="strict", secure=secure_cookies(request)
    )
