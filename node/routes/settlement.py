"""Settlement routes (operator): send a period's statement, list periods,
record a payment made outside Konsort."""

from __future__ import annotations

from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from starlette.responses import Response

from node.routes.endpoint import Call, Endpoint, answer_response, json_response
from node.routes.federation import NodeId
from node.routes.schemas import StrictBody
from node.services import settlement
from node.services.idempotency import run_idempotent_async

Reference = Annotated[str, Field(pattern=r"^[A-Za-z0-9._:/-]{1,64}$")]


class StatementIn(StrictBody):
    partner: NodeId
    period_start: AwareDatetime = Field(description="Start of the period (inclusive).")
    period_end: AwareDatetime = Field(description="End of the period (exclusive).")
    force: bool = Field(
        default=False,
        description="Send before the 7-day wait after period_end is over (tests, demos).",
    )


class PaymentIn(StrictBody):
    amount: Annotated[int, Field(strict=True, gt=0, le=2**53 - 1)] = Field(
        description="Minor units of the settlement currency."
    )
    reference: Reference = Field(description="The bank or transfer reference.")


class PeriodsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    partner: NodeId | None = None
    limit: int = Field(default=100, ge=1, le=500)


class StatementOut(BaseModel):
    message_id: str
    net_minor: int
    entries: int
    sent_at: str
    outcome: str | None
    reason: str | None
    partner_net_minor: int | None
    differing: list[str]


class PaymentOut(BaseModel):
    id: str
    amount_minor: int
    payer: str
    reference: str
    recorded_by: str
    recorded_at: str


class PeriodOut(BaseModel):
    id: str
    partner: str
    period_start: str
    period_end: str
    state: str
    net_minor: int | None = Field(description="From this node's view: positive, the partner owes.")
    owed_by: str | None
    owed_to: str | None
    amount_minor: int | None
    paid_minor: int
    entries: int | None
    differing: list[str]
    statements: list[StatementOut]
    payments: list[PaymentOut]
    created_at: str
    updated_at: str


class PeriodsOut(BaseModel):
    items: list[PeriodOut]


class PaymentRecordedOut(BaseModel):
    payment: PaymentOut
    period: PeriodOut


async def send_statement(call: Call) -> Response:
    node, body = call.node, call.body
    unit = settlement.statement_unit(
        node.federation,
        partner=body.partner,
        period_start=body.period_start,
        period_end=body.period_end,
        force=body.force,
        idempotency_key=call.idempotency_key(),
        now=node.clock.now(),
    )
    return answer_response(await run_idempotent_async(node.db, unit))


async def list_periods(call: Call) -> Response:
    node = call.node
    found = await call.run(
        settlement.list_periods,
        node.db,
        node_id=node.settings.node_id,
        partner=call.query.partner,
        limit=call.query.limit,
    )
    return json_response({"items": found})


async def record_payment(call: Call) -> Response:
    node = call.node
    assert call.principal is not None
    unit = settlement.payment_unit(
        node_id=node.settings.node_id,
        period_id=call.path("id"),
        amount_minor=call.body.amount,
        reference=call.body.reference,
        idempotency_key=call.idempotency_key(),
        now=node.clock.now(),
        recorded_by=call.principal,
    )
    return answer_response(await run_idempotent_async(node.db, unit))


ENDPOINTS = [
    Endpoint(
        "POST",
        "/api/v1/settlement/statements",
        send_statement,
        "Send a partner this node's statement of a period",
        "operator",
        "settlement",
        body=StatementIn,
        response=PeriodOut,
        status=202,
        idempotent=True,
        errors=(409, 422, 503),
    ),
    Endpoint(
        "GET",
        "/api/v1/settlement/periods",
        list_periods,
        "Settlement periods with net amount, state and differing refs",
        "operator",
        "settlement",
        query=PeriodsQuery,
        response=PeriodsOut,
    ),
    Endpoint(
        "POST",
        "/api/v1/settlement/periods/{id}/payments",
        record_payment,
        "Record a payment made outside Konsort against an agreed period",
        "operator",
        "settlement",
        body=PaymentIn,
        response=PaymentRecordedOut,
        status=201,
        idempotent=True,
        errors=(404, 409, 422),
    ),
]
