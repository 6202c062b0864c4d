"""Staff access to a customer's personal data (operator API); every call is audited."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel
from starlette.responses import Response

from node.routes.audit import request_actor, request_purpose
from node.routes.endpoint import Call, Endpoint, answer_response, json_response
from node.services import profiles
from node.services.idempotency import run_idempotent_async
from node.services.personal_data import PersonalData


class ProfileChange(PersonalData):
    """The fields to rectify; a field set to null is cleared, one left out stays."""


class ProfileOut(BaseModel):
    customer_id: str
    name: str | None
    email: str | None
    phone: str | None
    birthday: date | None


class RectificationOut(BaseModel):
    customer_id: str
    #: Names of the fields whose value changed (empty when nothing did).
    changed: list[str]


async def get_profile(call: Call) -> Response:
    node, customer_id = call.node, call.path("id")
    unit = profiles.profile_view_unit(
        secrets=node.secrets,
        customer_id=customer_id,
        actor=request_actor(call),
        purpose=request_purpose(call, default=profiles.DEFAULT_PURPOSES["profile.view"]),
        now=node.clock.now(),
    )
    profile = await node.db.write_async(unit)
    return json_response(ProfileOut(customer_id=customer_id, **profile.model_dump()))


async def rectify_profile(call: Call) -> Response:
    node = call.node
    unit = profiles.rectification_unit(
        secrets=node.secrets,
        customer_id=call.path("id"),
        changes=call.body,
        actor=request_actor(call),
        purpose=request_purpose(call, default=profiles.DEFAULT_PURPOSES["profile.change"]),
        idempotency_key=call.idempotency_key(),
        now=node.clock.now(),
    )
    return answer_response(await run_idempotent_async(node.db, unit))


PROFILE = "/api/v1/customers/{id}/profile"

ENDPOINTS = [
    Endpoint(
        "GET",
        PROFILE,
        get_profile,
        "A customer's personal data (audited)",
        "operator",
        "privacy",
        response=ProfileOut,
        errors=(404, 410, 422),
    ),
    Endpoint(
        "PATCH",
        PROFILE,
        rectify_profile,
        "Rectify a customer's personal data (audited)",
        "operator",
        "privacy",
        body=ProfileChange,
        response=RectificationOut,
        idempotent=True,
        errors=(404, 409, 410, 422),
    ),
]
