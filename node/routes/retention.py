"""Retention routes (operator): the policies, starting a run (or a dry run), past runs."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from node.routes.endpoint import Call, Endpoint, json_response
from node.routes.schemas import StrictBody
from node.services import retention
from node.services.idempotency import run_idempotent_async

CategoryName = Literal[
    "inactive_customers",
    "withdrawn_consent",
    "subject_requests",
    "audit_log",
    "federation_messages",
    "bookkeeping_details",
]


class RunIn(StrictBody):
    dry_run: Annotated[bool, Field(strict=True)] = Field(
        default=False, description="Only count and list what would go; change nothing."
    )
    categories: list[CategoryName] | None = Field(
        default=None, max_length=6, description="Run only these categories (default: all)."
    )


class RunsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=50, ge=1, le=500)


class PolicyOut(BaseModel):
    category: str
    description: str
    reason: str
    action: str
    duration: int
    unit: str
    setting: str
    keeps_forever: bool
    available: bool
    cutoff: str | None


class PoliciesOut(BaseModel):
    items: list[PolicyOut]


class CategoryRunOut(BaseModel):
    category: str
    action: str
    state: str = Field(description="done, kept (duration 0) or unavailable.")
    cutoff: str | None
    due: int
    applied: int
    sample: list[str] = Field(description="A dry run's first ids (opaque).")


class RunOut(BaseModel):
    id: str
    dry_run: bool
    trigger: str
    actor: str
    started_at: str
    finished_at: str | None
    error: str | None
    categories: list[CategoryRunOut]


class RunsOut(BaseModel):
    items: list[RunOut]


async def get_policies(call: Call) -> Response:
    node = call.node
    found = retention.policies_json(node.settings, now=node.clock.now())
    return json_response({"items": found})


async def start_run(call: Call) -> Response:
    node, body = call.node, call.body
    answer = await run_idempotent_async(
        node.db,
        retention.start_run_unit(
            dry_run=body.dry_run,
            categories=body.categories,
            idempotency_key=call.idempotency_key(),
            now=node.clock.now(),
            actor=str(call.principal),
        ),
    )
    run_id = str(answer.body["id"])
    if not answer.replayed:
        await call.run(
            retention.execute_run,
            node.db,
            node.settings,
            run_id=run_id,
            clock=node.clock,
            dry_run=body.dry_run,
            only=body.categories,
            fed=node.federation,
        )
    found = await call.run(retention.get_run, node.db, run_id=run_id)
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else {}
    return json_response(retention.run_json(found), 201, **headers)


async def list_runs(call: Call) -> Response:
    found = await call.run(retention.list_runs, call.node.db, limit=call.query.limit)
    return json_response({"items": [retention.run_json(run) for run in found]})


async def get_run(call: Call) -> Response:
    found = await call.run(retention.get_run, call.node.db, run_id=call.path("id"))
    return json_response(retention.run_json(found))


ENDPOINTS = [
    Endpoint(
        "GET",
        "/api/v1/retention/policies",
        get_policies,
        "Retention policies: per category the duration, action and current cutoff",
        "operator",
        "retention",
        response=PoliciesOut,
    ),
    Endpoint(
        "POST",
        "/api/v1/retention/runs",
        start_run,
        "Run the retention policies now (or a dry run)",
        "operator",
        "retention",
        body=RunIn,
        response=RunOut,
        status=201,
        idempotent=True,
        errors=(409, 422),
    ),
    Endpoint(
        "GET",
        "/api/v1/retention/runs",
        list_runs,
        "Past retention runs, newest first",
        "operator",
        "retention",
        query=RunsQuery,
        response=RunsOut,
        errors=(422,),
    ),
    Endpoint(
        "GET",
        "/api/v1/retention/runs/{id}",
        get_run,
        "One retention run",
        "operator",
        "retention",
        response=RunOut,
        errors=(404,),
    ),
]
