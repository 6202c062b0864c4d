"""Operator API (/api/v1): what a till or web shop calls, with an API key."""

from __future__ import annotations

from starlette.responses import Response

from node.program.earning import Line
from node.routes.audit import request_actor, request_purpose
from node.routes.endpoint import Call, Endpoint, answer_response, json_response
from node.routes.schemas import (
    BalanceOut,
    CustomerOut,
    EarnOut,
    EnrolRequest,
    HistoryOut,
    HistoryQuery,
    LookupOut,
    LookupRequest,
    PurchaseRequest,
    RedemptionOut,
    RedemptionRequest,
    TokenOut,
)
from node.services import customers, ledger, points, profiles, tokens
from node.services.idempotency import run_idempotent_async
from node.services.personal_data import PersonalData


async def enrol_customer(call: Call) -> Response:
    node = call.node
    answer = await run_idempotent_async(
        node.db,
        customers.enrolment_unit(
            secrets=node.secrets,
            personal=PersonalData(**call.body.model_dump(exclude={"referred_by", "consents"})),
            idempotency_key=call.idempotency_key(),
            now=node.clock.now(),
            settings=node.settings,
            referred_by=call.body.referred_by,
            consents=call.body.consents,
            actor=call.principal,
        ),
    )
    return answer_response(answer)


async def lookup_customer(call: Call) -> Response:
    node = call.node
    unit = profiles.lookup_unit(
        secrets=node.secrets,
        email=call.body.email,
        actor=request_actor(call),
        purpose=request_purpose(call, default=profiles.DEFAULT_PURPOSES["customer.lookup"]),
        now=node.clock.now(),
    )
    return json_response(LookupOut(customer_id=await node.db.write_async(unit)))


async def get_customer(call: Call) -> Response:
    found = await call.run(customers.get_customer, call.node.db, customer_id=call.path("id"))
    return json_response(
        CustomerOut(id=found.id, status=found.status, enrolled_at=found.enrolled_at)
    )


async def record_purchase(call: Call) -> Response:
    node, body = call.node, call.body
    unit = points.purchase_unit(
        node.settings,
        customer_id=call.path("id"),
        amount=body.amount,
        currency=body.currency or node.settings.currency,
        order_ref=body.order_ref,
        idempotency_key=call.idempotency_key(),
        now=node.clock.now(),
        actor=call.principal,
        lines=[Line(line.amount, line.category, line.product) for line in body.lines]
        if body.lines
        else None,
        occurred_at=body.occurred_at,
    )
    answer = await run_idempotent_async(node.db, unit)
    if not answer.replayed:
        node.metrics.ledger_transactions.labels("earn").inc()
    return answer_response(answer)


async def redeem_points(call: Call) -> Response:
    node, body = call.node, call.body
    unit = points.redemption_unit(
        customer_id=call.path("id"),
        points=body.points,
        reference=body.reference,
        idempotency_key=call.idempotency_key(),
        now=node.clock.now(),
        actor=call.principal,
    )
    answer = await run_idempotent_async(node.db, unit)
    if not answer.replayed:
        node.metrics.ledger_transactions.labels("redeem").inc()
    return answer_response(answer)


async def get_balance(call: Call) -> Response:
    return await balance_response(call, call.path("id"))


async def balance_response(call: Call, customer_id: str) -> Response:
    node = call.node
    balance = await call.run(
        ledger.customer_balance, node.db, customer_id=customer_id, now=node.clock.now()
    )
    return json_response(
        BalanceOut(
            customer_id=customer_id,
            points=balance.points,
            expiring_points=balance.expiring_points,
            next_expiry=balance.next_expiry,
            debt=balance.debt,
        )
    )


async def get_history(call: Call) -> Response:
    return await history_response(call, call.path("id"))


async def history_response(call: Call, customer_id: str) -> Response:
    page = await call.run(
        points.customer_history,
        call.node.db,
        customer_id=customer_id,
        limit=call.query.limit,
        cursor=call.query.cursor,
    )
    return json_response({"items": page.items, "next_cursor": page.next_cursor})


async def mint_token(call: Call) -> Response:
    node = call.node
    customer_id = call.path("id")
    await call.run(customers.get_customer, node.db, customer_id=customer_id)
    minted = tokens.mint_customer_token(
        node.secrets,
        node_id=node.settings.node_id,
        customer_id=customer_id,
        now=node.clock.now(),
        ttl_seconds=node.settings.customer_token_ttl_seconds,
    )
    return json_response(TokenOut(token=minted.token, expires_at=minted.expires_at), 201)


CUSTOMER = "/api/v1/customers/{id}"

ENDPOINTS = [
    Endpoint(
        "POST",
        "/api/v1/customers",
        enrol_customer,
        "Enrol a customer",
        "operator",
        "customers",
        body=EnrolRequest,
        response=CustomerOut,
        status=201,
        idempotent=True,
        errors=(409, 422),
    ),
    Endpoint(
        "POST",
        "/api/v1/customers/lookup",
        lookup_customer,
        "Find a customer by email",
        "operator",
        "customers",
        body=LookupRequest,
        response=LookupOut,
        errors=(404, 422),
    ),
    Endpoint(
        "GET",
        CUSTOMER,
        get_customer,
        "Get a customer",
        "operator",
        "customers",
        response=CustomerOut,
        errors=(404,),
    ),
    Endpoint(
        "POST",
        f"{CUSTOMER}/purchases",
        record_purchase,
        "Record a purchase and earn points",
        "operator",
        "points",
        body=PurchaseRequest,
        response=EarnOut,
        status=201,
        idempotent=True,
        errors=(404, 409, 422),
    ),
    Endpoint(
        "POST",
        f"{CUSTOMER}/redemptions",
        redeem_points,
        "Redeem points",
        "operator",
        "points",
        body=RedemptionRequest,
        response=RedemptionOut,
        status=201,
        idempotent=True,
        errors=(404, 409, 422),
    ),
    Endpoint(
        "GET",
        f"{CUSTOMER}/balance",
        get_balance,
        "A customer's balance",
        "operator",
        "points",
        response=BalanceOut,
        errors=(404,),
    ),
    Endpoint(
        "GET",
        f"{CUSTOMER}/transactions",
        get_history,
        "A customer's transactions, newest first",
        "operator",
        "points",
        query=HistoryQuery,
        response=HistoryOut,
        errors=(400, 404, 422),
    ),
    Endpoint(
        "POST",
        f"{CUSTOMER}/tokens",
        mint_token,
        "Mint a short-lived customer API token",
        "operator",
        "customers",
        response=TokenOut,
        status=201,
        errors=(404,),
    ),
]
