"""The audit log over the operator API: pages of entries and a chain check.

Also where a staff call's purpose is read: the ``Konsort-Purpose`` header, a
token such as ``customer_service`` (docs/audit.md lists them), or the
endpoint's default when it is absent.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from node.routes.endpoint import Call, Endpoint, json_response
from node.services import audit

PURPOSE_HEADER = "konsort-purpose"


def request_purpose(call: Call, *, default: str) -> str:
    """The caller's ``Konsort-Purpose`` header (422 when malformed), else ``default``."""
    given = call.request.headers.get(PURPOSE_HEADER)
    return default if given is None else audit.check_purpose(given)


def request_actor(call: Call) -> str:
    """Who the audit entry names: the operator API key's id."""
    assert call.principal is not None
    return call.principal


class AuditQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,40}$")] | None = None
    after_seq: int = Field(default=0, ge=0)
    limit: int = Field(default=100, ge=1, le=500)


class AuditEntryOut(BaseModel):
    seq: int
    at: str
    actor: str
    action: str
    customer_id: str | None
    purpose: str
    detail: dict[str, Any]
    hash: str


class AuditPageOut(BaseModel):
    items: list[AuditEntryOut]
    #: Pass as ``after_seq`` for the next page; null on the last page.
    next_after_seq: int | None


class ChainReportOut(BaseModel):
    ok: bool
    checked: int
    first_bad_seq: int | None
    reason: str | None
    starts_after: int
    head_seq: int
    head_hash: str


async def list_audit_entries(call: Call) -> Response:
    query: AuditQuery = call.query
    items, next_after = await call.run(
        audit.list_entries,
        call.node.db,
        customer_id=query.customer_id,
        after_seq=query.after_seq,
        limit=query.limit,
    )
    return json_response({"items": items, "next_after_seq": next_after})


async def verify_audit_chain(call: Call) -> Response:
    report = await call.run(audit.verify_chain, call.node.db)
    return json_response(report.as_dict())


ENDPOINTS = [
    Endpoint(
        "GET",
        "/api/v1/audit",
        list_audit_entries,
        "Audit log entries in chain order",
        "operator",
        "audit",
        query=AuditQuery,
        response=AuditPageOut,
        errors=(422,),
    ),
    Endpoint(
        "GET",
        "/api/v1/audit/verify",
        verify_audit_chain,
        "Check the audit log's hash chain",
        "operator",
        "audit",
        response=ChainReportOut,
    ),
]
