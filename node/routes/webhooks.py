"""Webhook API (/api/v1/webhooks): endpoints, their secrets and their deliveries."""

from __future__ import annotations

from starlette.responses import Response

from node.routes.endpoint import Call, Endpoint, answer_response, json_response
from node.routes.schemas import (
    DeliveryListOut,
    DeliveryOut,
    DeliveryQuery,
    WebhookCreatedOut,
    WebhookDisabledOut,
    WebhookListOut,
    WebhookRequest,
    WebhookSecretOut,
)
from node.services import webhooks


async def add_webhook(call: Call) -> Response:
    node = call.node
    answer = await webhooks.add_endpoint(
        node.db,
        node.secrets,
        url=call.body.url,
        events=call.body.events,
        idempotency_key=call.idempotency_key(),
        now=node.clock.now(),
    )
    return answer_response(answer)


async def list_webhooks(call: Call) -> Response:
    items = await call.run(webhooks.list_endpoints, call.node.db)
    return json_response({"items": items})


async def disable_webhook(call: Call) -> Response:
    node = call.node
    answer = await webhooks.disable_endpoint(
        node.db,
        endpoint_id=call.path("id"),
        idempotency_key=call.idempotency_key(),
        now=node.clock.now(),
    )
    return answer_response(answer)


async def rotate_webhook_secret(call: Call) -> Response:
    node = call.node
    answer = await webhooks.rotate_secret(
        node.db,
        node.secrets,
        endpoint_id=call.path("id"),
        idempotency_key=call.idempotency_key(),
        now=node.clock.now(),
    )
    return answer_response(answer)


async def list_deliveries(call: Call) -> Response:
    query = call.query
    page = await call.run(
        webhooks.list_deliveries,
        call.node.db,
        status=query.status,
        endpoint_id=query.endpoint_id,
        limit=query.limit,
        cursor=query.cursor,
    )
    return json_response({"items": page.items, "next_cursor": page.next_cursor})


async def retry_delivery(call: Call) -> Response:
    node = call.node
    answer = await webhooks.retry_delivery(
        node.db,
        delivery_id=call.path("id"),
        idempotency_key=call.idempotency_key(),
        now=node.clock.now(),
    )
    return answer_response(answer)


WEBHOOKS = "/api/v1/webhooks"

ENDPOINTS = [
    Endpoint(
        "POST",
        WEBHOOKS,
        add_webhook,
        "Add a webhook; the answer holds its signing secret",
        "operator",
        "webhooks",
        body=WebhookRequest,
        response=WebhookCreatedOut,
        status=201,
        idempotent=True,
        errors=(409, 422),
    ),
    Endpoint(
        "GET",
        WEBHOOKS,
        list_webhooks,
        "List webhooks (without secrets)",
        "operator",
        "webhooks",
        response=WebhookListOut,
    ),
    Endpoint(
        "GET",
        f"{WEBHOOKS}/deliveries",
        list_deliveries,
        "Webhook deliveries, newest first",
        "operator",
        "webhooks",
        query=DeliveryQuery,
        response=DeliveryListOut,
        errors=(400, 422),
    ),
    Endpoint(
        "POST",
        f"{WEBHOOKS}/deliveries/{{id}}/retry",
        retry_delivery,
        "Send a failed delivery again",
        "operator",
        "webhooks",
        response=DeliveryOut,
        idempotent=True,
        errors=(400, 404, 409),
    ),
    Endpoint(
        "DELETE",
        f"{WEBHOOKS}/{{id}}",
        disable_webhook,
        "Disable a webhook; its pending deliveries are cancelled",
        "operator",
        "webhooks",
        response=WebhookDisabledOut,
        idempotent=True,
        errors=(400, 404, 409),
    ),
    Endpoint(
        "POST",
        f"{WEBHOOKS}/{{id}}/secret",
        rotate_webhook_secret,
        "Rotate a webhook's signing secret",
        "operator",
        "webhooks",
        response=WebhookSecretOut,
        idempotent=True,
        errors=(400, 404, 409),
    ),
]
