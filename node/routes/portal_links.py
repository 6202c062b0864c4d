"""Operator API: mint a one-time sign-in link to the member portal (/me).

The shop signs the customer in on its own terms, asks the node for a link and
redirects the customer's browser there. The link works once, within
``portal_link_ttl_seconds``. Like customer tokens, minting needs no
Idempotency-Key: it writes no ledger entry, and a retry simply mints another
link (the unused one expires).

Revoking (``.../portal-links/revoke``) deletes the customer's unused links and
ends their portal sessions at once (node.services.portal_access); a repeat
revokes nothing more, so it needs no Idempotency-Key either.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from starlette.responses import Response

from node.routes.endpoint import Call, Endpoint, json_response
from node.services import portal_access, staff

PORTAL_SIGN_IN_PATH = "/me/signin/"


class PortalLinkOut(BaseModel):
    url: str
    expires_at: datetime


async def mint_portal_link(call: Call) -> Response:
    node = call.node
    minted = await call.run(
        staff.mint_portal_link,
        node.db,
        customer_id=call.path("id"),
        ttl_seconds=node.settings.portal_link_ttl_seconds,
        now=node.clock.now(),
    )
    url = f"{node.settings.resolved_public_base_url}{PORTAL_SIGN_IN_PATH}{minted.token}"
    return json_response(PortalLinkOut(url=url, expires_at=minted.expires_at), 201)


class PortalRevocationOut(BaseModel):
    links_revoked: int
    sessions_ended: int


async def revoke_portal_links(call: Call) -> Response:
    node = call.node
    revoked = await call.run(
        portal_access.revoke_portal_access,
        node.db,
        customer_id=call.path("id"),
        now=node.clock.now(),
    )
    return json_response(
        PortalRevocationOut(
            links_revoked=revoked.links_revoked, sessions_ended=revoked.sessions_ended
        )
    )


ENDPOINTS = [
    Endpoint(
        "POST",
        "/api/v1/customers/{id}/portal-links",
        mint_portal_link,
        "Mint a one-time member portal sign-in link",
        "operator",
        "customers",
        response=PortalLinkOut,
        status=201,
        errors=(404,),
    ),
    Endpoint(
        "POST",
        "/api/v1/customers/{id}/portal-links/revoke",
        revoke_portal_links,
        "Revoke a customer's unused portal links and end their portal sessions",
        "operator",
        "customers",
        response=PortalRevocationOut,
        errors=(404,),
    ),
]
