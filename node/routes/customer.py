"""Customer API (/api/v1/me): a signed-in member reads their own points."""

from __future__ import annotations

from starlette.responses import Response

from node.routes.endpoint import Call, Endpoint
from node.routes.operator import balance_response, history_response
from node.routes.schemas import BalanceOut, HistoryOut, HistoryQuery


async def my_balance(call: Call) -> Response:
    assert call.principal is not None
    return await balance_response(call, call.principal)


async def my_history(call: Call) -> Response:
    assert call.principal is not None
    return await history_response(call, call.principal)


ENDPOINTS = [
    Endpoint(
        "GET",
        "/api/v1/me/balance",
        my_balance,
        "My balance",
        "customer",
        "customer",
        response=BalanceOut,
        errors=(404,),
    ),
    Endpoint(
        "GET",
        "/api/v1/me/transactions",
        my_history,
        "My transactions, newest first",
        "customer",
        "customer",
        query=HistoryQuery,
        response=HistoryOut,
        errors=(400, 404, 422),
    ),
]
