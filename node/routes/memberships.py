"""Paid membership: fee payments, cancel and resume (operator), and what the till reads."""

from __future__ import annotations

from starlette.responses import Response

from node.routes.endpoint import Call, Endpoint, answer_response, json_response
from node.routes.schemas import MembershipCancelRequest, MembershipOut, MembershipPaymentRequest
from node.services import memberships
from node.services.idempotency import run_idempotent_async


async def record_payment(call: Call) -> Response:
    node, body = call.node, call.body
    unit = memberships.membership_payment_unit(
        node.settings,
        customer_id=call.path("id"),
        plan=body.plan,
        amount=body.amount,
        currency=body.currency or node.settings.currency,
        reference=body.reference,
        period=body.period,
        idempotency_key=call.idempotency_key(),
        now=node.clock.now(),
    )
    return answer_response(await run_idempotent_async(node.db, unit))


async def cancel(call: Call) -> Response:
    node = call.node
    unit = memberships.cancel_membership_unit(
        node.settings,
        customer_id=call.path("id"),
        at_once=call.body.at_once,
        idempotency_key=call.idempotency_key(),
        now=node.clock.now(),
    )
    return answer_response(await run_idempotent_async(node.db, unit))


async def resume(call: Call) -> Response:
    node = call.node
    unit = memberships.resume_membership_unit(
        node.settings,
        customer_id=call.path("id"),
        idempotency_key=call.idempotency_key(),
        now=node.clock.now(),
    )
    return answer_response(await run_idempotent_async(node.db, unit))


async def membership_response(call: Call, customer_id: str) -> Response:
    node = call.node
    status = await call.run(
        memberships.membership_status,
        node.db,
        node.settings,
        customer_id=customer_id,
        now=node.clock.now(),
    )
    return json_response(status)


async def get_membership(call: Call) -> Response:
    return await membership_response(call, call.path("id"))


async def my_membership(call: Call) -> Response:
    assert call.principal is not None
    return await membership_response(call, call.principal)


MEMBERSHIP = "/api/v1/customers/{id}/membership"

ENDPOINTS = [
    Endpoint(
        "GET",
        MEMBERSHIP,
        get_membership,
        "A customer's paid membership: state, period, benefits and flags, history",
        "operator",
        "membership",
        response=MembershipOut,
        errors=(404,),
    ),
    Endpoint(
        "POST",
        f"{MEMBERSHIP}/payments",
        record_payment,
        "Record a membership fee paid outside Konsort: starts or renews",
        "operator",
        "membership",
        body=MembershipPaymentRequest,
        response=MembershipOut,
        status=201,
        idempotent=True,
        errors=(404, 409, 422),
    ),
    Endpoint(
        "POST",
        f"{MEMBERSHIP}/cancel",
        cancel,
        "Cancel a paid membership at period end or at once",
        "operator",
        "membership",
        body=MembershipCancelRequest,
        response=MembershipOut,
        status=201,
        idempotent=True,
        errors=(404, 409, 422),
    ),
    Endpoint(
        "POST",
        f"{MEMBERSHIP}/resume",
        resume,
        "Undo a cancel at period end, before the period ends",
        "operator",
        "membership",
        response=MembershipOut,
        status=201,
        idempotent=True,
        errors=(404, 409),
    ),
    Endpoint(
        "GET",
        "/api/v1/me/membership",
        my_membership,
        "My paid membership",
        "customer",
        "customer",
        response=MembershipOut,
        errors=(404,),
    ),
]
