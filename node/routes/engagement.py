"""Engagement: actions the shop reports (operator) and challenge progress (both APIs)."""

from __future__ import annotations

from starlette.responses import Response

from node.routes.endpoint import Call, Endpoint, answer_response, json_response
from node.routes.schemas import ActionOut, ActionRequest, ChallengesOut
from node.services import challenges, engagement
from node.services.idempotency import run_idempotent_async


async def record_action(call: Call) -> Response:
    node, body = call.node, call.body
    unit = engagement.action_unit(
        node.settings,
        customer_id=call.path("id"),
        action_type=body.type,
        occurred_at=body.occurred_at,
        reference=body.reference,
        idempotency_key=call.idempotency_key(),
        now=node.clock.now(),
        actor=call.principal,
    )
    answer = await run_idempotent_async(node.db, unit)
    if not answer.replayed:
        node.metrics.ledger_transactions.labels("action").inc()
    return answer_response(answer)


async def challenges_response(call: Call, customer_id: str) -> Response:
    node = call.node
    items = await call.run(
        challenges.member_challenges,
        node.db,
        node.settings,
        customer_id=customer_id,
        now=node.clock.now(),
    )
    return json_response({"customer_id": customer_id, "items": items})


async def get_challenges(call: Call) -> Response:
    return await challenges_response(call, call.path("id"))


async def my_challenges(call: Call) -> Response:
    assert call.principal is not None
    return await challenges_response(call, call.principal)


ENDPOINTS = [
    Endpoint(
        "POST",
        "/api/v1/customers/{id}/actions",
        record_action,
        "Record an engagement action and earn its points",
        "operator",
        "engagement",
        body=ActionRequest,
        response=ActionOut,
        status=201,
        idempotent=True,
        errors=(404, 409, 422),
    ),
    Endpoint(
        "GET",
        "/api/v1/customers/{id}/challenges",
        get_challenges,
        "A customer's challenges and their progress",
        "operator",
        "engagement",
        response=ChallengesOut,
        errors=(404,),
    ),
    Endpoint(
        "GET",
        "/api/v1/me/challenges",
        my_challenges,
        "My challenges and my progress",
        "customer",
        "customer",
        response=ChallengesOut,
        errors=(404,),
    ),
]
