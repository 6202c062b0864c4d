"""Partner rewards and donations: offers published to partners, and the member's side.

``GET /federation/v1/offers`` is public (no personal data): the rewards this
node offers partner customers. The member's routes fetch a partner's offers
over HTTP with the app's outgoing transport (``create_app(transport=...)``).
"""

from __future__ import annotations

from typing import Annotated

import httpx
from pydantic import BaseModel, Field
from starlette.responses import Response

from node.routes.endpoint import Call, Endpoint, answer_response, json_response
from node.routes.federation import NodeId
from node.routes.schemas import StrictBody
from node.services import donations, partner_rewards
from node.services.idempotency import run_idempotent_async
from node.services.partner_rewards import OffersDocument

RewardId = Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")]


def partner_client(call: Call) -> httpx.AsyncClient:
    """An HTTP client for calls to partners (no redirects, a short timeout)."""
    transport = getattr(call.request.app.state, "http_transport", None)
    return httpx.AsyncClient(transport=transport, follow_redirects=False, timeout=5.0)


class PartnerQuery(StrictBody):
    partner: NodeId


class PartnerOfferOut(BaseModel):
    partner: str
    reward_id: str
    name: str
    points: int = Field(description="The price in this node's points.")
    partner_points: int = Field(description="The price in the partner's points.")
    stock_left: int | None
    available_until: str | None


class PartnerOffersOut(BaseModel):
    items: list[PartnerOfferOut]


class RedemptionIn(StrictBody):
    partner: NodeId
    reward: RewardId


class PartnerVoucherOut(BaseModel):
    code: str
    reward_id: str
    valid_until: str


class RedemptionOut(BaseModel):
    id: str
    partner: str
    reward_id: str | None
    name: str | None
    points: int
    partner_points: int
    value_minor: int
    status: str
    reason: str | None
    voucher: PartnerVoucherOut | None
    created_at: str
    updated_at: str


class RedemptionsOut(BaseModel):
    items: list[RedemptionOut]


class RedemptionStartedOut(BaseModel):
    class Started(BaseModel):
        id: str
        partner: str
        reward_id: str
        points: int = Field(description="Points taken from me into escrow (negative).")
        partner_points: int
        status: str

    redemption: Started
    balance: int


class DonationIn(StrictBody):
    charity: NodeId
    points: Annotated[int, Field(strict=True, gt=0, le=10**12)]
    anonymous: bool = False


class DonationReceiptOut(BaseModel):
    receipt_id: str
    value_minor: int
    currency: str


class DonationOut(BaseModel):
    id: str
    charity: str
    points: int
    value_minor: int
    anonymous: bool
    status: str
    reason: str | None
    receipt: DonationReceiptOut | None
    created_at: str
    updated_at: str


class DonationsOut(BaseModel):
    items: list[DonationOut]


class DonationStartedOut(BaseModel):
    class Started(BaseModel):
        id: str
        charity: str
        points: int
        value_minor: int
        anonymous: bool
        status: str

    donation: Started
    balance: int


class ReceiptDocumentOut(BaseModel):
    donation: str
    charity: str
    receipt: DonationReceiptOut
    answer_token: str = Field(
        description="The charity's signed donation.answer; verify it with its manifest key."
    )


async def published_offers(call: Call) -> Response:
    node = call.node
    found = await call.run(partner_rewards.offers, node.db, node.settings, now=node.clock.now())
    return json_response(found)


async def my_partner_offers(call: Call) -> Response:
    node = call.node
    assert call.principal is not None
    async with partner_client(call) as client:
        found = await partner_rewards.partner_offers(
            node.db,
            node.federation,
            client=client,
            customer_id=call.principal,
            partner=call.query.partner,
            now=node.clock.now(),
        )
    return json_response({"items": [partner_rewards.partner_offer_json(o) for o in found]})


async def my_partner_redemption(call: Call) -> Response:
    node = call.node
    assert call.principal is not None
    key = call.idempotency_key()
    async with partner_client(call) as client:
        answer = await partner_rewards.redeem_partner_reward(
            node.db,
            node.federation,
            client=client,
            customer_id=call.principal,
            partner=call.body.partner,
            reward=call.body.reward,
            idempotency_key=key,
            now=node.clock.now(),
            actor=call.principal,
        )
    return answer_response(answer)


async def my_partner_vouchers(call: Call) -> Response:
    assert call.principal is not None
    found = await call.run(
        partner_rewards.customer_redemptions, call.node.db, customer_id=call.principal
    )
    return json_response({"items": [partner_rewards.redemption_json(op) for op in found]})


async def my_donation(call: Call) -> Response:
    node = call.node
    assert call.principal is not None
    unit = donations.donation_unit(
        node.federation,
        customer_id=call.principal,
        charity=call.body.charity,
        points=call.body.points,
        anonymous=call.body.anonymous,
        idempotency_key=call.idempotency_key(),
        now=node.clock.now(),
        actor=call.principal,
    )
    return answer_response(await run_idempotent_async(node.db, unit))


async def my_donations(call: Call) -> Response:
    assert call.principal is not None
    found = await call.run(donations.customer_donations, call.node.db, customer_id=call.principal)
    return json_response({"items": [donations.donation_json(op) for op in found]})


async def my_donation_receipt(call: Call) -> Response:
    assert call.principal is not None
    found = await call.run(
        donations.donation_receipt,
        call.node.db,
        customer_id=call.principal,
        donation_id=call.path("id"),
    )
    return json_response(
        {
            "donation": found.donation.public_id,
            "charity": found.donation.peer,
            "receipt": found.receipt,
            "answer_token": found.answer_token,
        }
    )


ENDPOINTS = [
    Endpoint(
        "GET",
        "/federation/v1/offers",
        published_offers,
        "The rewards this node offers partner customers now",
        "none",
        "federation",
        response=OffersDocument,
    ),
    Endpoint(
        "GET",
        "/api/v1/me/partner-offers",
        my_partner_offers,
        "A partner's rewards, priced in my points",
        "customer",
        "customer",
        query=PartnerQuery,
        response=PartnerOffersOut,
        errors=(404, 409, 422, 502, 503),
    ),
    Endpoint(
        "POST",
        "/api/v1/me/partner-redemptions",
        my_partner_redemption,
        "Redeem my points for a partner's reward",
        "customer",
        "customer",
        body=RedemptionIn,
        response=RedemptionStartedOut,
        status=202,
        idempotent=True,
        errors=(403, 404, 409, 422, 502, 503),
    ),
    Endpoint(
        "GET",
        "/api/v1/me/partner-vouchers",
        my_partner_vouchers,
        "My partner rewards and their vouchers, newest first",
        "customer",
        "customer",
        response=RedemptionsOut,
        errors=(404,),
    ),
    Endpoint(
        "POST",
        "/api/v1/me/donations",
        my_donation,
        "Donate points to a charity",
        "customer",
        "customer",
        body=DonationIn,
        response=DonationStartedOut,
        status=202,
        idempotent=True,
        errors=(403, 404, 409, 422, 503),
    ),
    Endpoint(
        "GET",
        "/api/v1/me/donations",
        my_donations,
        "My donations, newest first",
        "customer",
        "customer",
        response=DonationsOut,
        errors=(404,),
    ),
    Endpoint(
        "GET",
        "/api/v1/me/donations/{id}/receipt",
        my_donation_receipt,
        "The charity's signed receipt for one of my donations",
        "customer",
        "customer",
        response=ReceiptDocumentOut,
        errors=(404, 409),
    ),
]
