"""Program API (/api/v1/program, tiers, refunds, store credit): the rules and their effects."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from node.errors import ValidationFailed
from node.program.config import parse_program
from node.routes.endpoint import Call, Endpoint, answer_response, json_response
from node.routes.schemas import (
    Reference,
    RefundOut,
    RefundRequest,
    StoreCreditOut,
    StoreCreditSpendOut,
    StoreCreditSpendRequest,
)
from node.services import program, refunds, store_credit, tiers
from node.services.idempotency import run_idempotent_async


class ProgramUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    program: dict[str, Any] = Field(
        description="The whole program (docs/program.md); every field has a default."
    )
    comment: Reference | None = Field(default=None, description="Why it changed.")


class ProgramOut(BaseModel):
    version: int
    program: dict[str, Any]


class ProgramVersionOut(BaseModel):
    version: int
    actor: str
    comment: str | None
    created_at: str
    changed: list[str] = Field(description="Dotted paths that differ from the version before.")
    program: dict[str, Any] | None = None


class ProgramHistoryOut(BaseModel):
    items: list[ProgramVersionOut]
    next_before: int | None


class HistoryQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=20, ge=1, le=200)
    before: Annotated[int, Field(ge=1)] | None = None


class ValidationOut(BaseModel):
    valid: bool
    changed: list[str]


class TierLevelOut(BaseModel):
    code: str
    name: str
    threshold: int
    multiplier_percent: int
    benefits: list[str]


class TierChangeOut(BaseModel):
    from_tier: str | None
    to_tier: str
    reason: str
    qualifying_value: int
    program_version: int
    at: str


class TierStatusOut(BaseModel):
    tier: TierLevelOut | None
    since: str | None
    review_at: str | None
    grace_until: str | None
    basis: str
    qualifying_value: int
    next_tier: TierLevelOut | None
    to_next_tier: int | None
    history: list[TierChangeOut]


def _parse(body: ProgramUpdate) -> Any:
    try:
        return parse_program(body.program)
    except ValidationFailed as exc:
        field = f"program.{exc.field}" if exc.field else "program"
        raise ValidationFailed(exc.message, field=field) from None


async def get_program(call: Call) -> Response:
    node = call.node
    found = await call.run(program.current_program, node.db, node.settings, now=node.clock.now())
    return json_response(
        ProgramOut(version=found.version, program=found.program.model_dump(mode="json"))
    )


async def put_program(call: Call) -> Response:
    node = call.node
    unit = program.program_update_unit(
        node.settings,
        program=_parse(call.body),
        actor=call.principal or "operator",
        comment=call.body.comment,
        idempotency_key=call.idempotency_key(),
        now=node.clock.now(),
    )
    return answer_response(await run_idempotent_async(node.db, unit))


async def validate_program(call: Call) -> Response:
    node = call.node
    candidate = _parse(call.body)
    current = await call.run(program.current_program, node.db, node.settings, now=node.clock.now())
    return json_response(
        ValidationOut(valid=True, changed=program.changed_paths(current.program, candidate))
    )


async def program_history(call: Call) -> Response:
    node = call.node
    changes = await call.run(
        program.program_history,
        node.db,
        node.settings,
        before=call.query.before,
        limit=call.query.limit,
    )
    items = [program.change_json(change, with_program=False) for change in changes]
    more = len(changes) == call.query.limit and changes[-1].version > 1
    return json_response({"items": items, "next_before": changes[-1].version if more else None})


async def get_program_version(call: Call) -> Response:
    raw = call.path("version")
    if not raw.isdigit() or len(raw) > 9:
        raise ValidationFailed("the version is a whole number", field="version")
    node = call.node
    found = await call.run(program.program_version, node.db, node.settings, version=int(raw))
    return json_response(
        ProgramOut(version=found.version, program=found.program.model_dump(mode="json"))
    )


async def _tier_response(call: Call, customer_id: str) -> Response:
    node = call.node
    status = await call.run(
        tiers.tier_status, node.db, node.settings, customer_id=customer_id, now=node.clock.now()
    )
    return json_response(tiers.tier_status_json(status))


async def customer_tier(call: Call) -> Response:
    return await _tier_response(call, call.path("id"))


async def my_tier(call: Call) -> Response:
    assert call.principal is not None
    return await _tier_response(call, call.principal)


async def refund_purchase(call: Call) -> Response:
    node, body = call.node, call.body
    unit = refunds.refund_unit(
        customer_id=call.path("id"),
        transaction_id=body.transaction_id,
        order_ref=body.order_ref,
        amount=body.amount,
        reference=body.reference,
        idempotency_key=call.idempotency_key(),
        now=node.clock.now(),
        actor=call.principal,
    )
    answer = await run_idempotent_async(node.db, unit)
    if not answer.replayed:
        node.metrics.ledger_transactions.labels("refund").inc()
    return answer_response(answer)


async def _credit_response(call: Call, customer_id: str) -> Response:
    node = call.node
    found = await call.run(
        store_credit.credit_balance,
        node.db,
        customer_id=customer_id,
        currency=node.settings.currency,
    )
    return json_response(
        StoreCreditOut(
            customer_id=customer_id, currency=found.currency, balance=found.balance, debt=found.debt
        )
    )


async def customer_credit(call: Call) -> Response:
    return await _credit_response(call, call.path("id"))


async def my_credit(call: Call) -> Response:
    assert call.principal is not None
    return await _credit_response(call, call.principal)


async def spend_credit(call: Call) -> Response:
    node, body = call.node, call.body
    unit = store_credit.spend_unit(
        customer_id=call.path("id"),
        amount=body.amount,
        currency=body.currency or node.settings.currency,
        node_currency=node.settings.currency,
        reference=body.reference,
        idempotency_key=call.idempotency_key(),
        now=node.clock.now(),
        actor=call.principal,
    )
    return answer_response(await run_idempotent_async(node.db, unit))


CUSTOMER = "/api/v1/customers/{id}"

ENDPOINTS = [
    Endpoint(
        "GET",
        "/api/v1/program",
        get_program,
        "The program in force",
        "operator",
        "program",
        response=ProgramOut,
    ),
    Endpoint(
        "PUT",
        "/api/v1/program",
        put_program,
        "Replace the program (a new version, in force at once)",
        "operator",
        "program",
        body=ProgramUpdate,
        response=ProgramVersionOut,
        status=201,
        idempotent=True,
        errors=(409, 422),
    ),
    Endpoint(
        "POST",
        "/api/v1/program/validate",
        validate_program,
        "Check a program without saving it; lists what would change",
        "operator",
        "program",
        body=ProgramUpdate,
        response=ValidationOut,
        errors=(422,),
    ),
    Endpoint(
        "GET",
        "/api/v1/program/versions",
        program_history,
        "Program versions, newest first, with what changed",
        "operator",
        "program",
        query=HistoryQuery,
        response=ProgramHistoryOut,
        errors=(422,),
    ),
    Endpoint(
        "GET",
        "/api/v1/program/versions/{version}",
        get_program_version,
        "One program version",
        "operator",
        "program",
        response=ProgramOut,
        errors=(404, 422),
    ),
    Endpoint(
        "GET",
        f"{CUSTOMER}/tier",
        customer_tier,
        "A customer's tier, progress and tier history",
        "operator",
        "program",
        response=TierStatusOut,
        errors=(404,),
    ),
    Endpoint(
        "POST",
        f"{CUSTOMER}/refunds",
        refund_purchase,
        "Refund (part of) a purchase and take back what it earned",
        "operator",
        "points",
        body=RefundRequest,
        response=RefundOut,
        status=201,
        idempotent=True,
        errors=(404, 409, 422),
    ),
    Endpoint(
        "GET",
        f"{CUSTOMER}/store-credit",
        customer_credit,
        "A customer's store credit (cashback)",
        "operator",
        "points",
        response=StoreCreditOut,
        errors=(404,),
    ),
    Endpoint(
        "POST",
        f"{CUSTOMER}/store-credit/spend",
        spend_credit,
        "Pay with store credit",
        "operator",
        "points",
        body=StoreCreditSpendRequest,
        response=StoreCreditSpendOut,
        status=201,
        idempotent=True,
        errors=(404, 409, 422),
    ),
    Endpoint(
        "GET",
        "/api/v1/me/tier",
        my_tier,
        "My tier and progress",
        "customer",
        "customer",
        response=TierStatusOut,
        errors=(404,),
    ),
    Endpoint(
        "GET",
        "/api/v1/me/store-credit",
        my_credit,
        "My store credit",
        "customer",
        "customer",
        response=StoreCreditOut,
        errors=(404,),
    ),
]
