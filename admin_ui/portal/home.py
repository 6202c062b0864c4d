"""The portal's start page: balance, tier and progress to the next, points
expiring soon and recent history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from admin_ui.i18n import N_
from admin_ui.pages import Page, PageCall, View
from node.services import portal

#: Ledger transaction kinds as the member reads them (others show as "Other").
KIND_LABELS = {
    "earn": N_("Purchase"),
    "enrolment": N_("Welcome bonus"),
    "bonus": N_("Bonus"),
    "birthday": N_("Birthday bonus"),
    "redeem": N_("Redeemed"),
    "refund": N_("Refund"),
    "expire": N_("Expired"),
    "transfer-out": N_("Moved to a partner"),
    "transfer-in": N_("Moved from a partner"),
    "transfer-refund": N_("Transfer returned"),
    "donation-refund": N_("Donation returned"),
    "referrer": N_("Referral bonus"),
    "referred": N_("Referral bonus"),
}


def moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def history_rows(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """History items (node.services.points.customer_history) as the member reads them."""
    return [
        {
            "kind": KIND_LABELS.get(item["kind"], N_("Other")),
            "points": item["points"],
            "created_at": moment(item["created_at"]),
        }
        for item in items
    ]


def portal_home_context(
    overview: portal.MemberOverview | None,
    *,
    currency: str = "DKK",
    exponent: int = 2,
    notice: str | None = None,
) -> dict[str, Any]:
    """What the start page shows; ``None`` (a template sample) shows an empty membership."""
    if overview is None:
        return {
            "points": 0,
            "tier": None,
            "expiring": {"points": 0, "lots": []},
            "history": [],
            "currency": currency,
            "exponent": exponent,
            "notice": notice,
        }
    status = overview.tier
    tier = None
    if status.tier is not None:
        tier = {
            "name": status.tier.name,
            "next_name": status.next_tier.name if status.next_tier else None,
            "to_next": status.to_next_tier,
            "value": status.qualifying_value,
            "next_threshold": status.next_tier.threshold if status.next_tier else None,
            "spend": status.basis == "spend",
        }
    lots = [
        {"points": lot["points"], "expires_at": moment(lot["expires_at"])}
        for lot in overview.expiring["lots"]
    ]
    history = history_rows(overview.history)
    return {
        "points": overview.balance.points,
        "tier": tier,
        "expiring": {"points": overview.expiring["points"], "lots": lots},
        "history": history,
        "currency": currency,
        "exponent": exponent,
        "notice": notice,
    }


async def portal_home(call: PageCall) -> View:
    assert call.customer_id is not None
    node = call.node
    overview = await call.run(
        portal.member_overview,
        node.db,
        node.settings,
        customer_id=call.customer_id,
        now=node.clock.now(),
    )
    moved = call.request.query_params.get("moved") is not None
    return View(
        portal_home_context(
            overview,
            currency=node.settings.currency,
            exponent=node.settings.currency_exponent,
            notice=call.gettext("Your points are on their way to the partner.") if moved else None,
        )
    )


PAGES = [Page("/", "portal_home", portal_home, auth="member", template="portal/home.html")]
