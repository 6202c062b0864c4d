"""Federation routes: the protocol inbox, and the member's links and transfers.

``POST /federation/v1/messages`` takes one compact JWS (``application/jose``)
and answers 200 with the signed answer, or 4xx with the protocol's error code
(``{"error": {"code", "message", "field"}}``) when the request is refused at
the edge; a refusal writes nothing.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Annotated

from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from node.errors import PayloadTooLarge, UnsupportedMediaType
from node.routes.endpoint import Call, Endpoint, answer_response, json_response
from node.routes.schemas import StrictBody
from node.services import links, transfers
from node.services.federation_handlers import INBOX_HANDLERS
from node.services.idempotency import run_idempotent_async
from node.services.inbox import receive_message, refused
from node.services.outbox import MEDIA_TYPE
from node.store import federation as store
from protocol import MAX_TOKEN_BYTES

MAX_MESSAGE_BYTES = MAX_TOKEN_BYTES  # the protocol's own limit
NodeId = Annotated[str, Field(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")]


class PeerRateLimit:
    """A token bucket per peer: ``rate`` messages a second, bursts of ``burst``."""

    def __init__(self, rate: float = 500.0, burst: float = 1000.0) -> None:
        self.rate, self.burst = rate, burst
        self._tokens: dict[str, float] = defaultdict(lambda: burst)
        self._seen: dict[str, float] = {}

    def allow(self, peer: str) -> bool:
        now = time.monotonic()
        last = self._seen.get(peer, now)
        self._seen[peer] = now
        tokens = min(self.burst, self._tokens[peer] + (now - last) * self.rate)
        if tokens < 1:
            self._tokens[peer] = tokens
            return False
        self._tokens[peer] = tokens - 1
        return True


async def _read_token(request: Request) -> bytes:
    media = request.headers.get("content-type", "").split(";")[0].strip()
    if media != MEDIA_TYPE:
        raise UnsupportedMediaType(f"send the message as {MEDIA_TYPE}", field="Content-Type")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_MESSAGE_BYTES:
            raise PayloadTooLarge(f"protocol messages are limited to {MAX_MESSAGE_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def receive(call: Call) -> Response:
    node = call.node
    token = await _read_token(call.request)
    limiter: PeerRateLimit = call.request.app.state.peer_rate_limit
    kid_hint = _issuer_hint(token)
    if kid_hint and not limiter.allow(kid_hint):
        raise refused("rate_limited", "too many messages from this peer; retry later")
    answer = await run_in_threadpool(
        receive_message,
        node.db,
        node.federation,
        token,
        now=node.clock.now(),
        handlers=INBOX_HANDLERS,
        currency=node.settings.currency,
    )
    return Response(answer, 200, media_type=MEDIA_TYPE)


def _issuer_hint(token: bytes) -> str | None:
    """The node id in the token's kid header, for rate limiting before verification."""
    import base64
    import json

    try:
        header = token.split(b".", 1)[0]
        decoded = json.loads(base64.urlsafe_b64decode(header + b"=" * (-len(header) % 4)))
        return str(decoded["kid"]).split(":", 1)[0][:64]
    except (ValueError, KeyError, TypeError):
        return None


# -- the member's side ----------------------------------------------------------


class LinkCodeRequest(StrictBody):
    partner: NodeId = Field(description="The node the member will link with.")


class LinkCodeOut(BaseModel):
    link_code: str
    subject: str = Field(description="This node's pseudonym for the member towards the partner.")
    partner: str
    expires_at: str


class LinkRequestIn(StrictBody):
    partner: NodeId
    link_code: Annotated[str, Field(min_length=8, max_length=64)]
    subject: Annotated[str, Field(min_length=43, max_length=43)]


class LinkOut(BaseModel):
    partner: str
    status: str
    since: str


class LinksOut(BaseModel):
    items: list[LinkOut]


class TransferIn(StrictBody):
    partner: NodeId
    points: Annotated[int, Field(strict=True, gt=0, le=10**12)]


class OperationOut(BaseModel):
    id: str
    kind: str
    direction: str
    partner: str
    points: int
    partner_points: int
    value_minor: int
    status: str
    reason: str | None
    created_at: str
    updated_at: str


class TransferStartedOut(BaseModel):
    class Started(BaseModel):
        id: str
        partner: str
        points: int = Field(description="Points taken from me into escrow (negative).")
        partner_points: int = Field(description="Points the partner will credit me.")
        status: str

    transfer: Started
    balance: int


class OperationsOut(BaseModel):
    items: list[OperationOut]


class PeerStatusOut(BaseModel):
    partner: str
    queued: int
    retrying: int
    answered: int
    oldest_queued_at: str | None
    last_error: str | None


class FederationStatusOut(BaseModel):
    node_id: str
    manifest_version: int | None
    peers: list[PeerStatusOut]


async def my_link_code(call: Call) -> Response:
    node = call.node
    assert call.principal is not None
    issued = await call.run(
        links.create_link_code,
        node.db,
        node.federation,
        customer_id=call.principal,
        partner=call.body.partner,
        now=node.clock.now(),
    )
    from node.clock import isoformat

    return json_response(
        LinkCodeOut(
            link_code=issued.link_code,
            subject=issued.subject,
            partner=issued.partner,
            expires_at=isoformat(issued.expires_at),
        ),
        201,
    )


async def my_link_request(call: Call) -> Response:
    node = call.node
    assert call.principal is not None
    unit = links.request_link_unit(
        node.federation,
        customer_id=call.principal,
        partner=call.body.partner,
        link_code=call.body.link_code,
        subject=call.body.subject,
        idempotency_key=call.idempotency_key(),
        now=node.clock.now(),
    )
    return answer_response(await run_idempotent_async(node.db, unit))


async def my_links(call: Call) -> Response:
    assert call.principal is not None
    found = await call.run(links.customer_links, call.node.db, customer_id=call.principal)
    return json_response({"items": [links.link_json(link) for link in found]})


async def my_link_revoke(call: Call) -> Response:
    node = call.node
    assert call.principal is not None
    unit = links.revoke_link_unit(
        node.federation,
        customer_id=call.principal,
        partner=call.path("partner"),
        idempotency_key=call.idempotency_key(),
        now=node.clock.now(),
    )
    return answer_response(await run_idempotent_async(node.db, unit))


async def my_transfer(call: Call) -> Response:
    assert call.principal is not None
    return await _transfer(call, call.principal)


async def customer_transfer(call: Call) -> Response:
    return await _transfer(call, call.path("id"))


async def customer_transfers(call: Call) -> Response:
    found = await call.run(transfers.customer_operations, call.node.db, customer_id=call.path("id"))
    return json_response({"items": [transfers.operation_json(op) for op in found]})


async def _transfer(call: Call, customer_id: str) -> Response:
    node = call.node
    unit = transfers.start_transfer_unit(
        node.federation,
        customer_id=customer_id,
        partner=call.body.partner,
        points=call.body.points,
        idempotency_key=call.idempotency_key(),
        now=node.clock.now(),
        actor=call.principal,
    )
    answer = await run_idempotent_async(node.db, unit)
    if not answer.replayed:
        node.metrics.ledger_transactions.labels("transfer-out").inc()
    return answer_response(answer)


async def my_transfers(call: Call) -> Response:
    assert call.principal is not None
    found = await call.run(transfers.customer_operations, call.node.db, customer_id=call.principal)
    return json_response({"items": [transfers.operation_json(op) for op in found]})


async def federation_status(call: Call) -> Response:
    node = call.node

    def read() -> tuple[int | None, list[store.OutboxSummary]]:
        with node.db.read() as session:
            return (
                store.latest_manifest_version(session=session),
                store.outbox_summary(session=session),
            )

    version, peers = await call.run(read)
    from node.clock import isoformat

    return json_response(
        {
            "node_id": node.settings.node_id,
            "manifest_version": version,
            "peers": [
                {
                    "partner": peer.destination,
                    "queued": peer.pending,
                    "retrying": peer.retrying,
                    "answered": peer.answered,
                    "oldest_queued_at": isoformat(peer.oldest_pending)
                    if peer.oldest_pending
                    else None,
                    "last_error": peer.last_error,
                }
                for peer in peers
            ],
        }
    )


ENDPOINTS = [
    Endpoint(
        "POST",
        "/api/v1/customers/{id}/transfers",
        customer_transfer,
        "Move a customer's points to their linked account at a partner",
        "operator",
        "federation",
        body=TransferIn,
        response=TransferStartedOut,
        status=202,
        idempotent=True,
        errors=(403, 404, 409, 422, 503),
    ),
    Endpoint(
        "GET",
        "/api/v1/customers/{id}/transfers",
        customer_transfers,
        "A customer's transfers to and from partners, newest first",
        "operator",
        "federation",
        response=OperationsOut,
        errors=(404,),
    ),
    Endpoint(
        "POST",
        "/federation/v1/messages",
        receive,
        "Receive a signed protocol request; answers with the signed answer",
        "none",
        "federation",
        errors=(400, 401, 403, 413, 415, 421, 429, 503),
    ),
    Endpoint(
        "GET",
        "/api/v1/federation/status",
        federation_status,
        "Messages queued, retrying and answered per partner",
        "operator",
        "federation",
        response=FederationStatusOut,
    ),
    Endpoint(
        "POST",
        "/api/v1/me/link-codes",
        my_link_code,
        "A single-use code to link my account at a partner",
        "customer",
        "customer",
        body=LinkCodeRequest,
        response=LinkCodeOut,
        status=201,
        errors=(403, 404, 422, 503),
    ),
    Endpoint(
        "POST",
        "/api/v1/me/links",
        my_link_request,
        "Link my account at a partner with the code it gave me",
        "customer",
        "customer",
        body=LinkRequestIn,
        response=LinkOut,
        status=202,
        idempotent=True,
        errors=(403, 404, 409, 422, 503),
    ),
    Endpoint(
        "GET",
        "/api/v1/me/links",
        my_links,
        "My linked partner accounts",
        "customer",
        "customer",
        response=LinksOut,
        errors=(404,),
    ),
    Endpoint(
        "DELETE",
        "/api/v1/me/links/{partner}",
        my_link_revoke,
        "Unlink my account at a partner",
        "customer",
        "customer",
        response=LinkOut,
        idempotent=True,
        errors=(404, 409),
    ),
    Endpoint(
        "POST",
        "/api/v1/me/transfers",
        my_transfer,
        "Move points to my account at a partner",
        "customer",
        "customer",
        body=TransferIn,
        response=TransferStartedOut,
        status=202,
        idempotent=True,
        errors=(403, 404, 409, 422, 503),
    ),
    Endpoint(
        "GET",
        "/api/v1/me/transfers",
        my_transfers,
        "My transfers to and from partners, newest first",
        "customer",
        "customer",
        response=OperationsOut,
        errors=(404,),
    ),
]
