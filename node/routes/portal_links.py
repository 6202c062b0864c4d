"""Operator API: mint a one-time sign-in link to the member portal (/me).

The shop signs the customer in on its own terms, asks the node for a link and
redirects the customer's browser there. The link works once, within
``portal_link_ttl_seconds``. Like customer tokens, minting needs no
Idempotency-Key: it writes no ledger entry, and a retry simply mints another
link (the unused one expires).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from starlette.responses import Response

from node.routes.endpoint import Call, Endpoint, json_response
from node.services import staff

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
]
