"""Privacy routes (operator): the notices sent to partners for a data-subject
request, and each partner's signed receipt."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from node.clock import isoformat
from node.routes.endpoint import Call, Endpoint, json_response
from node.services import partner_notices
from node.services.outbox import MEDIA_TYPE

RequestRef = Annotated[str, Field(pattern=r"^[A-Za-z0-9._:-]{1,64}$")]


class NoticesQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_ref: RequestRef = Field(description="The data-subject request's reference.")


class NoticeOut(BaseModel):
    id: str
    request_ref: str
    partner: str
    kind: str = Field(description="erasure, restriction, restriction_lift or rectification.")
    state: str = Field(description="queued, receipt_in or rejected.")
    reason: str | None
    receipt: dict[str, Any] | None = Field(
        description="The partner's signed answer body (erased/kept, restricted/stopped, held)."
    )
    sends: int
    attempts: int
    last_error: str | None
    sent_at: str
    answered_at: str | None


class NoticesOut(BaseModel):
    items: list[NoticeOut]


def notice_json(notice: partner_notices.NoticeStatus) -> dict[str, Any]:
    return {
        "id": notice.id,
        "request_ref": notice.request_ref,
        "partner": notice.partner,
        "kind": notice.kind,
        "state": notice.state,
        "reason": notice.reason,
        "receipt": notice.receipt,
        "sends": notice.sends,
        "attempts": notice.attempts,
        "last_error": notice.last_error,
        "sent_at": isoformat(notice.sent_at),
        "answered_at": None if notice.answered_at is None else isoformat(notice.answered_at),
    }


async def list_notices(call: Call) -> Response:
    found = await call.run(
        partner_notices.notices_for_request, call.node.db, request_ref=call.query.request_ref
    )
    return json_response({"items": [notice_json(notice) for notice in found]})


async def notice_receipt(call: Call) -> Response:
    token = await call.run(partner_notices.notice_receipt, call.node.db, notice_id=call.path("id"))
    return Response(token.encode(), media_type=MEDIA_TYPE)


ENDPOINTS = [
    Endpoint(
        "GET",
        "/api/v1/privacy/notices",
        list_notices,
        "Notices sent to partners for a data-subject request, with their receipts",
        "operator",
        "privacy",
        query=NoticesQuery,
        response=NoticesOut,
        errors=(422,),
    ),
    Endpoint(
        "GET",
        "/api/v1/privacy/notices/{id}/receipt",
        notice_receipt,
        "A partner's signed receipt for a notice (application/jose)",
        "operator",
        "privacy",
        errors=(404, 409),
    ),
]
