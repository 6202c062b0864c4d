"""Consent routes: a member's consents (customer and operator API) and the purposes.

Granting and withdrawing are the same request (``PUT .../consents/{purpose}``
with ``{"granted": true|false}``): withdrawing is as easy as giving.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field
from starlette.responses import Response

from node.routes.endpoint import Call, Endpoint, answer_response, json_response
from node.routes.schemas import StrictBody
from node.services import consent, consent_purposes
from node.services.idempotency import run_idempotent_async


class ConsentChange(StrictBody):
    granted: bool = Field(description="true grants the purpose, false withdraws it.")
    wording_version: Annotated[int, Field(ge=1, le=10**6)] | None = Field(
        default=None, description="The wording version the member saw; default: the one in force."
    )


class OperatorConsentChange(ConsentChange):
    channel: Literal["operator_api", "in_store", "web"] = Field(
        default="operator_api", description="Where the member gave or withdrew it."
    )


class PublishWording(StrictBody):
    purpose: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,39}$")]
    title: Annotated[str, Field(min_length=1, max_length=100)]
    text: Annotated[str, Field(min_length=1, max_length=4000)]


class ConsentOut(BaseModel):
    purpose: str
    legal_basis: str
    state: str = Field(description="granted, withdrawn, not_given or contract.")
    granted: bool
    title: str
    text: str
    wording_version: int
    current_version: int
    since: str | None
    channel: str | None
    restricted: bool


class ConsentsOut(BaseModel):
    customer_id: str
    restricted: bool
    purposes: list[dict[str, object]]


class ConsentHistoryOut(BaseModel):
    items: list[dict[str, object]]


class PurposesOut(BaseModel):
    items: list[dict[str, object]]


async def _overview(call: Call, customer_id: str) -> Response:
    found = await call.run(consent.consent_overview, call.node.db, customer_id=customer_id)
    return json_response(found)


async def _change(call: Call, customer_id: str, *, channel: str) -> Response:
    node = call.node
    unit = consent.consent_unit(
        customer_id=customer_id,
        purpose=call.path("purpose"),
        granted=call.body.granted,
        wording_version=call.body.wording_version,
        channel=channel,
        actor="customer" if channel == "customer_api" else str(call.principal),
        idempotency_key=call.idempotency_key(),
        now=node.clock.now(),
    )
    return answer_response(await run_idempotent_async(node.db, unit))


async def my_consents(call: Call) -> Response:
    assert call.principal is not None
    return await _overview(call, call.principal)


async def change_my_consent(call: Call) -> Response:
    assert call.principal is not None
    return await _change(call, call.principal, channel="customer_api")


async def customer_consents(call: Call) -> Response:
    return await _overview(call, call.path("id"))


async def change_customer_consent(call: Call) -> Response:
    return await _change(call, call.path("id"), channel=call.body.channel)


async def customer_consent_history(call: Call) -> Response:
    items = await call.run(consent.consent_history, call.node.db, customer_id=call.path("id"))
    return json_response({"items": items})


async def list_purposes(call: Call) -> Response:
    found = await call.run(consent_purposes.list_purposes, call.node.db)
    return json_response({"items": [consent_purposes.purpose_json(p) for p in found]})


async def publish_wording(call: Call) -> Response:
    node, body = call.node, call.body
    unit = consent_purposes.publish_unit(
        purpose=body.purpose,
        title=body.title,
        text=body.text,
        actor=str(call.principal),
        idempotency_key=call.idempotency_key(),
        now=node.clock.now(),
    )
    return answer_response(await run_idempotent_async(node.db, unit))


MINE = "/api/v1/me/consents"
CUSTOMER = "/api/v1/customers/{id}/consents"

ENDPOINTS = [
    Endpoint(
        "GET",
        MINE,
        my_consents,
        "My consents: each purpose, its wording and my answer",
        "customer",
        "consent",
        response=ConsentsOut,
        errors=(404,),
    ),
    Endpoint(
        "PUT",
        f"{MINE}/{{purpose}}",
        change_my_consent,
        "Grant or withdraw one purpose",
        "customer",
        "consent",
        body=ConsentChange,
        response=ConsentOut,
        idempotent=True,
        errors=(404, 409, 422),
    ),
    Endpoint(
        "GET",
        f"{CUSTOMER}/history",
        customer_consent_history,
        "Every consent record of a customer, oldest first",
        "operator",
        "consent",
        response=ConsentHistoryOut,
        errors=(404,),
    ),
    Endpoint(
        "GET",
        CUSTOMER,
        customer_consents,
        "A customer's consents",
        "operator",
        "consent",
        response=ConsentsOut,
        errors=(404,),
    ),
    Endpoint(
        "PUT",
        f"{CUSTOMER}/{{purpose}}",
        change_customer_consent,
        "Record a customer's grant or withdrawal of one purpose",
        "operator",
        "consent",
        body=OperatorConsentChange,
        response=ConsentOut,
        idempotent=True,
        errors=(404, 409, 422),
    ),
    Endpoint(
        "GET",
        "/api/v1/consent/purposes",
        list_purposes,
        "Consent purposes and every version of their wording",
        "operator",
        "consent",
        response=PurposesOut,
    ),
    Endpoint(
        "POST",
        "/api/v1/consent/purposes",
        publish_wording,
        "Publish new wording for a purpose, or a new purpose",
        "operator",
        "consent",
        body=PublishWording,
        status=201,
        idempotent=True,
        errors=(422,),
    ),
]
