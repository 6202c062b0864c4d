"""Personalised offers: the till lists and uses them (operator), members read theirs."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field
from starlette.responses import Response

from node.routes.endpoint import Call, Endpoint, answer_response, json_response
from node.routes.schemas import Reference, StrictBody, TransactionOut
from node.services import offers
from node.services.idempotency import run_idempotent_async


class OfferUseRequest(StrictBody):
    reference: Reference | None = Field(
        default=None, description="The purchase the offer is used with (the till's order ref)."
    )


class OfferRewardOut(BaseModel):
    kind: str = Field(description="bonus_points, discount_code or reward.")
    bonus_points: int | None
    discount_code: str | None
    reward: str | None


class OfferOut(BaseModel):
    id: str
    rule: str
    name: str
    status: str = Field(description="pending, used or expired.")
    reward: OfferRewardOut
    explanation: str = Field(description="Why the member got it, in plain words.")
    facts: dict[str, object] = Field(description="The rule's condition and the figures it used.")
    issued_at: datetime
    expires_at: datetime
    used_at: datetime | None
    reference: str | None
    voucher_code: str | None


class OffersOut(BaseModel):
    customer_id: str
    items: list[OfferOut]


class OfferUsedOut(BaseModel):
    customer_id: str
    offer: OfferOut
    transaction: TransactionOut | None
    balance: int


async def offers_response(call: Call, customer_id: str) -> Response:
    node = call.node
    items = await call.run(
        offers.customer_offers,
        node.db,
        node.settings,
        customer_id=customer_id,
        now=node.clock.now(),
    )
    return json_response({"customer_id": customer_id, "items": items})


async def get_offers(call: Call) -> Response:
    return await offers_response(call, call.path("id"))


async def my_offers(call: Call) -> Response:
    assert call.principal is not None
    return await offers_response(call, call.principal)


async def use_offer(call: Call) -> Response:
    node = call.node
    unit = offers.use_offer_unit(
        node.settings,
        customer_id=call.path("id"),
        offer_id=call.path("offer_id"),
        reference=call.body.reference,
        idempotency_key=call.idempotency_key(),
        now=node.clock.now(),
        actor=call.principal,
    )
    return answer_response(await run_idempotent_async(node.db, unit))


ENDPOINTS = [
    Endpoint(
        "GET",
        "/api/v1/customers/{id}/offers",
        get_offers,
        "A customer's personalised offers, each with why it was given",
        "operator",
        "offers",
        response=OffersOut,
        errors=(404,),
    ),
    Endpoint(
        "POST",
        "/api/v1/customers/{id}/offers/{offer_id}/use",
        use_offer,
        "Use an offer at the till: grant its bonus points, voucher or code once",
        "operator",
        "offers",
        body=OfferUseRequest,
        response=OfferUsedOut,
        idempotent=True,
        errors=(404, 409, 422),
    ),
    Endpoint(
        "GET",
        "/api/v1/me/offers",
        my_offers,
        "My personalised offers and why I got them",
        "customer",
        "customer",
        response=OffersOut,
        errors=(404,),
    ),
]
