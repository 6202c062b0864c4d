"""Points about to expire: per member for the business, and a member's own lots."""

from __future__ import annotations

from starlette.responses import Response

from node.routes.endpoint import Call, Endpoint, json_response
from node.routes.schemas import (
    ExpiringListOut,
    ExpiringQuery,
    MemberExpiringOut,
    MemberExpiringQuery,
)
from node.services import expiry_warnings


async def list_expiring_points(call: Call) -> Response:
    node, query = call.node, call.query
    page = await call.run(
        expiry_warnings.expiring_by_customer,
        node.db,
        now=node.clock.now(),
        within_days=query.within_days,
        limit=query.limit,
        cursor=query.cursor,
    )
    return json_response({"items": page.items, "next_cursor": page.next_cursor})


async def customer_expiring_points(call: Call) -> Response:
    return await member_expiring_response(call, call.path("id"))


async def my_expiring_points(call: Call) -> Response:
    assert call.principal is not None
    return await member_expiring_response(call, call.principal)


async def member_expiring_response(call: Call, customer_id: str) -> Response:
    node, query = call.node, call.query
    body = await call.run(
        expiry_warnings.customer_expiring,
        node.db,
        customer_id=customer_id,
        now=node.clock.now(),
        within_days=query.within_days,
        limit=query.limit,
    )
    return json_response(body)


ENDPOINTS = [
    Endpoint(
        "GET",
        "/api/v1/points/expiring",
        list_expiring_points,
        "Members with points expiring soon, soonest first",
        "operator",
        "points",
        query=ExpiringQuery,
        response=ExpiringListOut,
        errors=(400, 422),
    ),
    Endpoint(
        "GET",
        "/api/v1/customers/{id}/expiring",
        customer_expiring_points,
        "A customer's points expiring soon, lot by lot",
        "operator",
        "points",
        query=MemberExpiringQuery,
        response=MemberExpiringOut,
        errors=(404, 422),
    ),
    Endpoint(
        "GET",
        "/api/v1/me/expiring",
        my_expiring_points,
        "My points expiring soon, lot by lot",
        "customer",
        "customer",
        query=MemberExpiringQuery,
        response=MemberExpiringOut,
        errors=(404, 422),
    ),
]
