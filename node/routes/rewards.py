"""Rewards catalogue and vouchers: redeem at the till or in the member's app,
check and use a voucher at the till, cancel it, list them.

Voucher codes appear in paths. Logs and metrics carry route templates
(``/api/v1/vouchers/{code}``), never the raw path, so no code is logged.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from node.program.config import Reward
from node.routes.endpoint import Call, Endpoint, answer_response, json_response
from node.routes.schemas import (
    HistoryQuery,
    MemberRewardOut,
    MemberRewardsOut,
    RewardOut,
    RewardsOut,
    VoucherCancelledOut,
    VoucherIssuedOut,
    VoucherOut,
    VoucherRequest,
    VouchersOut,
    VoucherUseRequest,
)
from node.services import rewards, vouchers
from node.services.idempotency import run_idempotent_async


def _reward_fields(reward: Reward, stock_left: int | None) -> dict[str, Any]:
    return {
        "code": reward.code,
        "name": reward.name,
        "points": reward.points,
        "stock": reward.stock,
        "stock_left": stock_left,
        "per_customer_limit": reward.per_customer_limit,
        "available_from": reward.available_from,
        "available_until": reward.available_until,
        "voucher_valid_days": reward.voucher_valid_days,
        "tiers": list(reward.tiers),
    }


async def list_rewards(call: Call) -> Response:
    node = call.node
    entries = await call.run(rewards.catalogue, node.db, node.settings, now=node.clock.now())
    items = [RewardOut(**_reward_fields(e.reward, e.stock_left)) for e in entries]
    return json_response(RewardsOut(items=items))


async def list_my_rewards(call: Call) -> Response:
    node = call.node
    assert call.principal is not None
    found = await call.run(
        rewards.member_catalogue,
        node.db,
        node.settings,
        customer_id=call.principal,
        now=node.clock.now(),
    )
    items = [
        MemberRewardOut(**_reward_fields(e.reward, e.stock_left), limit_left=e.limit_left)
        for e in found.entries
    ]
    return json_response(
        MemberRewardsOut(customer_id=found.customer_id, tier=found.tier, items=items)
    )


async def _redeem(call: Call, customer_id: str) -> Response:
    node = call.node
    unit = rewards.issue_voucher_unit(
        node.settings,
        customer_id=customer_id,
        reward_code=call.body.reward,
        idempotency_key=call.idempotency_key(),
        now=node.clock.now(),
        actor=call.principal,
    )
    return answer_response(await run_idempotent_async(node.db, unit))


async def redeem_reward(call: Call) -> Response:
    return await _redeem(call, call.path("id"))


async def redeem_my_reward(call: Call) -> Response:
    assert call.principal is not None
    return await _redeem(call, call.principal)


async def _vouchers(call: Call, customer_id: str) -> Response:
    node = call.node
    page = await call.run(
        vouchers.customer_vouchers,
        node.db,
        node.settings,
        customer_id=customer_id,
        limit=call.query.limit,
        cursor=call.query.cursor,
        now=node.clock.now(),
    )
    return json_response({"items": page.items, "next_cursor": page.next_cursor})


async def list_vouchers(call: Call) -> Response:
    return await _vouchers(call, call.path("id"))


async def list_my_vouchers(call: Call) -> Response:
    assert call.principal is not None
    return await _vouchers(call, call.principal)


async def check_voucher(call: Call) -> Response:
    node = call.node
    found = await call.run(
        vouchers.check_voucher, node.db, node.settings, code=call.path("code"), now=node.clock.now()
    )
    return json_response(found)


async def use_voucher(call: Call) -> Response:
    node = call.node
    unit = vouchers.use_voucher_unit(
        node.settings,
        code=call.path("code"),
        reference=call.body.reference,
        idempotency_key=call.idempotency_key(),
        now=node.clock.now(),
    )
    return answer_response(await run_idempotent_async(node.db, unit))


async def _cancel(call: Call, owner: str | None) -> Response:
    node = call.node
    unit = vouchers.cancel_voucher_unit(
        node.settings,
        code=call.path("code"),
        owner=owner,
        idempotency_key=call.idempotency_key(),
        now=node.clock.now(),
        actor=call.principal,
    )
    return answer_response(await run_idempotent_async(node.db, unit))


async def cancel_voucher(call: Call) -> Response:
    return await _cancel(call, None)


async def cancel_my_voucher(call: Call) -> Response:
    assert call.principal is not None
    return await _cancel(call, call.principal)


VOUCHER = "/api/v1/vouchers/{code}"

ENDPOINTS = [
    Endpoint(
        "GET",
        "/api/v1/rewards",
        list_rewards,
        "Rewards available now with stock left",
        "operator",
        "rewards",
        response=RewardsOut,
    ),
    Endpoint(
        "POST",
        "/api/v1/customers/{id}/vouchers",
        redeem_reward,
        "Redeem a reward for a customer: take the points, issue a voucher",
        "operator",
        "rewards",
        body=VoucherRequest,
        response=VoucherIssuedOut,
        status=201,
        idempotent=True,
        errors=(404, 409, 422),
    ),
    Endpoint(
        "GET",
        "/api/v1/customers/{id}/vouchers",
        list_vouchers,
        "A customer's vouchers, newest first",
        "operator",
        "rewards",
        query=HistoryQuery,
        response=VouchersOut,
        errors=(400, 404, 422),
    ),
    Endpoint(
        "GET",
        VOUCHER,
        check_voucher,
        "Check a voucher by its code",
        "operator",
        "rewards",
        response=VoucherOut,
        errors=(404,),
    ),
    Endpoint(
        "POST",
        f"{VOUCHER}/use",
        use_voucher,
        "Use a voucher (once)",
        "operator",
        "rewards",
        body=VoucherUseRequest,
        response=VoucherOut,
        idempotent=True,
        errors=(404, 409, 422),
    ),
    Endpoint(
        "POST",
        f"{VOUCHER}/cancel",
        cancel_voucher,
        "Cancel an unused voucher and return its points",
        "operator",
        "rewards",
        response=VoucherCancelledOut,
        idempotent=True,
        errors=(404, 409),
    ),
    Endpoint(
        "GET",
        "/api/v1/me/rewards",
        list_my_rewards,
        "Rewards I may redeem now",
        "customer",
        "customer",
        response=MemberRewardsOut,
        errors=(404,),
    ),
    Endpoint(
        "POST",
        "/api/v1/me/vouchers",
        redeem_my_reward,
        "Redeem a reward: take my points, issue a voucher",
        "customer",
        "customer",
        body=VoucherRequest,
        response=VoucherIssuedOut,
        status=201,
        idempotent=True,
        errors=(404, 409, 422),
    ),
    Endpoint(
        "GET",
        "/api/v1/me/vouchers",
        list_my_vouchers,
        "My vouchers, newest first",
        "customer",
        "customer",
        query=HistoryQuery,
        response=VouchersOut,
        errors=(400, 404, 422),
    ),
    Endpoint(
        "POST",
        "/api/v1/me/vouchers/{code}/cancel",
        cancel_my_voucher,
        "Cancel one of my unused vouchers and get its points back",
        "customer",
        "customer",
        response=VoucherCancelledOut,
        idempotent=True,
        errors=(404, 409),
    ),
]
