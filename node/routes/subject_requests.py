"""Data-subject requests: the member's side (/api/v1/me/requests) and staff's
(/api/v1/privacy/requests). Answers never carry personal data, except the
member's own export zip."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from node.routes.audit import request_purpose
from node.routes.endpoint import Call, Endpoint, answer_response, json_response
from node.services import access_export
from node.services import subject_requests as requests
from node.services.idempotency import Unit, run_idempotent_async
from node.services.personal_data import PersonalData

RequestType = Literal[
    "access",
    "portability",
    "rectification",
    "erasure",
    "restriction",
    "restriction_lift",
    "objection",
]
Text = Annotated[str, Field(min_length=1, max_length=500, pattern=r"^[^\x00-\x1f\x7f]*$")]
Details = Annotated[str, Field(min_length=1, max_length=2000)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MyRequestBody(Strict):
    type: RequestType
    details: Details | None = Field(default=None, description="Stored sealed, never shown.")
    changes: PersonalData | None = Field(
        default=None, description="The corrected values (rectification only); stored sealed."
    )


class StaffRequestBody(MyRequestBody):
    customer_id: Annotated[str, Field(min_length=1, max_length=40)]
    channel: Literal["email", "letter", "phone", "in_person", "admin_ui", "other"]


class VerifyBody(Strict):
    method: Annotated[str, Field(min_length=1, max_length=40)] = Field(
        description="in_person_document or customer_token_confirmation"
    )


class RejectBody(Strict):
    reason: Text


class ExtendBody(Strict):
    months: Annotated[int, Field(strict=True, ge=1, le=2)]
    reason: Text


class RequestListQuery(Strict):
    state: Literal["received", "identity_verified", "approved", "rejected", "done"] | None = None
    type: RequestType | None = None
    overdue: bool = False
    cursor: Annotated[str, Field(max_length=20)] | None = None
    limit: Annotated[int, Field(ge=1, le=200)] = 50


def _changes(body: MyRequestBody) -> dict[str, Any] | None:
    if body.changes is None:
        return None
    return body.changes.model_dump(mode="json", exclude_unset=True) or None


async def _write(call: Call, unit: Unit) -> Response:
    return answer_response(await run_idempotent_async(call.node.db, unit))


async def file_my_request(call: Call) -> Response:
    assert call.principal is not None
    node, body = call.node, call.body
    unit = requests.file_request_unit(
        secrets=node.secrets,
        customer_id=call.principal,
        type=body.type,
        channel="customer_api",
        filed_by=requests.CUSTOMER,
        details=body.details,
        changes=_changes(body),
        idempotency_key=call.idempotency_key(),
        now=node.clock.now(),
    )
    return await _write(call, unit)


async def list_my_requests(call: Call) -> Response:
    found = await call.run(
        requests.list_requests,
        call.node.db,
        now=call.node.clock.now(),
        customer_id=call.principal,
        cursor=call.query.cursor,
        limit=call.query.limit,
    )
    return json_response(found)


async def get_my_request(call: Call) -> Response:
    found = await call.run(
        requests.get_request,
        call.node.db,
        request_id=call.path("id"),
        now=call.node.clock.now(),
        customer_id=call.principal,
    )
    return json_response(found)


async def confirm_my_request(call: Call) -> Response:
    assert call.principal is not None
    unit = requests.confirm_unit(
        customer_id=call.principal,
        request_id=call.path("id"),
        idempotency_key=call.idempotency_key(),
        now=call.node.clock.now(),
    )
    return await _write(call, unit)


async def _export(call: Call, customer_id: str | None) -> Response:
    node = call.node
    staff = None if customer_id is not None else call.principal
    purpose = request_purpose(call, default="subject_request")
    found = await call.run(
        access_export.build_export,
        node.db,
        secrets=node.secrets,
        node_id=node.settings.node_id,
        request_id=call.path("id"),
        now=node.clock.now(),
        customer_id=customer_id,
        staff=staff,
        purpose=purpose,
    )
    return Response(
        found.content,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{found.filename}"',
            "Cache-Control": "no-store",
        },
    )


async def export_my_request(call: Call) -> Response:
    assert call.principal is not None
    return await _export(call, call.principal)


async def export_request(call: Call) -> Response:
    return await _export(call, None)


async def file_request(call: Call) -> Response:
    node, body = call.node, call.body
    assert call.principal is not None
    unit = requests.file_request_unit(
        secrets=node.secrets,
        customer_id=body.customer_id,
        type=body.type,
        channel=body.channel,
        filed_by=call.principal,
        details=body.details,
        changes=_changes(body),
        idempotency_key=call.idempotency_key(),
        now=node.clock.now(),
    )
    return await _write(call, unit)


async def list_requests(call: Call) -> Response:
    query = call.query
    found = await call.run(
        requests.list_requests,
        call.node.db,
        now=call.node.clock.now(),
        state=query.state,
        type=query.type,
        overdue=query.overdue,
        cursor=query.cursor,
        limit=query.limit,
    )
    return json_response(found)


async def get_request(call: Call) -> Response:
    found = await call.run(
        requests.get_request, call.node.db, request_id=call.path("id"), now=call.node.clock.now()
    )
    return json_response(found)


async def verify_request(call: Call) -> Response:
    assert call.principal is not None
    unit = requests.verify_unit(
        request_id=call.path("id"),
        method=call.body.method,
        actor=call.principal,
        idempotency_key=call.idempotency_key(),
        now=call.node.clock.now(),
    )
    return await _write(call, unit)


async def approve_request(call: Call) -> Response:
    assert call.principal is not None
    unit = requests.approve_unit(
        node=call.node,
        request_id=call.path("id"),
        actor=call.principal,
        idempotency_key=call.idempotency_key(),
        now=call.node.clock.now(),
    )
    response = await _write(call, unit)
    if response.status_code == 200:
        await call.run(requests.scrub_after_erasure, call.node.db, request_id=call.path("id"))
    return response


async def reject_request(call: Call) -> Response:
    assert call.principal is not None
    unit = requests.reject_unit(
        request_id=call.path("id"),
        actor=call.principal,
        reason=call.body.reason,
        idempotency_key=call.idempotency_key(),
        now=call.node.clock.now(),
    )
    return await _write(call, unit)


async def extend_request(call: Call) -> Response:
    assert call.principal is not None
    unit = requests.extend_unit(
        request_id=call.path("id"),
        actor=call.principal,
        months=call.body.months,
        reason=call.body.reason,
        idempotency_key=call.idempotency_key(),
        now=call.node.clock.now(),
    )
    return await _write(call, unit)


class PageQuery(Strict):
    cursor: Annotated[str, Field(max_length=20)] | None = None
    limit: Annotated[int, Field(ge=1, le=200)] = 50


MINE = "/api/v1/me/requests"
STAFF = "/api/v1/privacy/requests"
WRITE_ERRORS = (404, 409, 422)

ENDPOINTS = [
    Endpoint(
        "POST",
        MINE,
        file_my_request,
        "File a data-subject request (identity verified by the token)",
        "customer",
        "privacy",
        body=MyRequestBody,
        status=201,
        idempotent=True,
        errors=WRITE_ERRORS,
    ),
    Endpoint(
        "GET",
        MINE,
        list_my_requests,
        "My data-subject requests",
        "customer",
        "privacy",
        query=PageQuery,
        errors=(422,),
    ),
    Endpoint(
        "GET",
        f"{MINE}/{{id}}",
        get_my_request,
        "One of my requests, with its history",
        "customer",
        "privacy",
        errors=(404,),
    ),
    Endpoint(
        "POST",
        f"{MINE}/{{id}}/confirm",
        confirm_my_request,
        "Confirm a request staff filed for me (verifies my identity)",
        "customer",
        "privacy",
        idempotent=True,
        errors=WRITE_ERRORS,
    ),
    Endpoint(
        "GET",
        f"{MINE}/{{id}}/export",
        export_my_request,
        "Download my export (zip)",
        "customer",
        "privacy",
        errors=(404, 409),
    ),
    Endpoint(
        "POST",
        STAFF,
        file_request,
        "File a data-subject request for a member",
        "operator",
        "privacy",
        body=StaffRequestBody,
        status=201,
        idempotent=True,
        errors=WRITE_ERRORS,
    ),
    Endpoint(
        "GET",
        STAFF,
        list_requests,
        "Data-subject requests (filter by state, type, overdue)",
        "operator",
        "privacy",
        query=RequestListQuery,
        errors=(422,),
    ),
    Endpoint(
        "GET",
        f"{STAFF}/{{id}}",
        get_request,
        "A request with its history",
        "operator",
        "privacy",
        errors=(404,),
    ),
    Endpoint(
        "POST",
        f"{STAFF}/{{id}}/verify",
        verify_request,
        "Verify the requester's identity",
        "operator",
        "privacy",
        body=VerifyBody,
        idempotent=True,
        errors=WRITE_ERRORS,
    ),
    Endpoint(
        "POST",
        f"{STAFF}/{{id}}/approve",
        approve_request,
        "Approve and carry out a request",
        "operator",
        "privacy",
        idempotent=True,
        errors=WRITE_ERRORS,
    ),
    Endpoint(
        "POST",
        f"{STAFF}/{{id}}/reject",
        reject_request,
        "Reject a request with a reason",
        "operator",
        "privacy",
        body=RejectBody,
        idempotent=True,
        errors=WRITE_ERRORS,
    ),
    Endpoint(
        "POST",
        f"{STAFF}/{{id}}/extend",
        extend_request,
        "Extend the deadline by one or two months (once, with a reason)",
        "operator",
        "privacy",
        body=ExtendBody,
        idempotent=True,
        errors=WRITE_ERRORS,
    ),
    Endpoint(
        "GET",
        f"{STAFF}/{{id}}/export",
        export_request,
        "Download a member's export (zip)",
        "operator",
        "privacy",
        errors=(404, 409),
    ),
]
