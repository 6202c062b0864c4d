"""Partner rewards: a linked partner's offers priced in the member's points,
one button to redeem each, and the member's partner vouchers.

The redeem form carries a key made when the offers were shown; the
redemption runs once per key, so a double click pays once.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
from starlette.responses import RedirectResponse, Response

from admin_ui.i18n import N_
from admin_ui.pages import Page, PageCall, View
from admin_ui.portal.transfers import FORM_KEY, idempotency_key, new_form_key, refusal_message
from node.errors import KonsortError
from node.services import partner_rewards, portal

NODE_ID = re.compile(r"^[a-z0-9-]{1,64}$")
REWARD_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
STATUS_LABELS = {
    "pending": N_("on its way"),
    "accepted": N_("ready"),
    "rejected": N_("returned"),
}


def rewards_context(
    options: portal.PartnerRewardOptions | None,
    *,
    form_key: str = "",
    notice: str | None = None,
    refusal: str | None = None,
) -> dict[str, Any]:
    names = dict(options.partners) if options else {}
    return {
        "partners": options.partners if options else [],
        "partner": options.partner if options else "",
        "partner_name": names.get(options.partner, "") if options else "",
        "offers": [
            {"reward": o.offer.reward_id, "name": o.offer.name, "points": o.points}
            for o in (options.offers if options else [])
        ],
        "offers_error": options.offers_error if options else None,
        "redemptions": [
            {
                "partner": names.get(item["partner"], item["partner"]),
                "name": item["name"] or item["reward_id"],
                "points": -item["points"],
                "status": STATUS_LABELS.get(item["status"], item["status"]),
                "voucher": (item["voucher"] or {}).get("code"),
            }
            for item in (options.redemptions if options else [])
        ],
        "balance": options.balance if options else 0,
        "form_key": form_key,
        "notice": notice,
        "refusal": refusal,
    }


def _client(call: PageCall) -> httpx.AsyncClient:
    """An HTTP client for calls to partners, as the API's (no redirects, a short timeout)."""
    transport = getattr(call.request.app.state, "http_transport", None)
    return httpx.AsyncClient(transport=transport, follow_redirects=False, timeout=5.0)


async def _options(call: PageCall, partner: str | None) -> portal.PartnerRewardOptions:
    assert call.customer_id is not None
    node = call.node
    async with _client(call) as client:
        return await portal.partner_reward_options(
            node.db,
            node.federation,
            client=client,
            customer_id=call.customer_id,
            partner=partner,
            now=node.clock.now(),
        )


async def rewards_page(call: PageCall) -> View:
    query = call.request.query_params
    redeemed = query.get("redeemed") is not None
    notice = call.gettext("Your reward is on its way.") if redeemed else None
    options = await _options(call, query.get("partner"))
    return View(rewards_context(options, form_key=new_form_key(), notice=notice))


async def redeem(call: PageCall) -> View | Response:
    assert call.customer_id is not None
    form = await call.form()
    partner, reward = str(form.get("partner", "")), str(form.get("reward", ""))
    form_key = str(form.get("form_key", ""))
    if not NODE_ID.match(partner) or not REWARD_ID.match(reward) or not FORM_KEY.match(form_key):
        message = call.gettext("That reward could not be redeemed. Please try again.")
        options = await _options(call, None)
        return View(rewards_context(options, form_key=new_form_key(), refusal=message), status=422)
    node = call.node
    try:
        async with _client(call) as client:
            await partner_rewards.redeem_partner_reward(
                node.db,
                node.federation,
                client=client,
                customer_id=call.customer_id,
                partner=partner,
                reward=reward,
                idempotency_key=idempotency_key(call.customer_id, form_key),
                now=node.clock.now(),
                actor=call.customer_id,
            )
    except KonsortError as exc:
        if exc.http_status >= 500 and not isinstance(exc, partner_rewards.PartnerUnreachable):
            raise
        options = await _options(call, partner)
        message = refusal_message(exc, call.gettext)
        return View(
            rewards_context(options, form_key=new_form_key(), refusal=message),
            status=exc.http_status,
        )
    target = call.request.url_for("portal_rewards").path + f"?partner={partner}&redeemed"
    return RedirectResponse(target, status_code=303)


PAGES = [
    Page("/rewards", "portal_rewards", rewards_page, auth="member", template="portal/rewards.html"),
    Page(
        "/rewards",
        "portal_rewards_redeem",
        redeem,
        auth="member",
        template="portal/rewards.html",
        methods=("POST",),
    ),
]
