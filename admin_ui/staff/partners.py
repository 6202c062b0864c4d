"""Partners (operator): the consortium manifest's members with their keys and
validity, this node's own signing keys and their rotation, the outbox per
partner (its messages are on the outbox page, admin_ui.staff.partners_outbox)
and the rewards this node offers partners' members.

Rotation (``partners.manage``) has a confirmation step and calls the service
behind ``konsort keys rotate`` (node.services.consortium_view): a new key is
made and its public JWK shown to give to the steward; the older key signs until
a manifest lists the new one. The form names the newest key the operator saw,
so a second submit makes no second key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.responses import Response

from admin_ui.i18n import N_
from admin_ui.pages import Page, PageCall, View
from admin_ui.permissions import allowed
from node.services import consortium_view, outbox_control, partner_rewards
from node.store.federation import OutboxSummary

KEY_STATE_LABELS = {
    "signing": N_("signing"),
    "valid": N_("valid, not signing"),
    "not_valid": N_("listed, not valid now"),
    "not_listed": N_("not in the manifest yet"),
    "no_manifest": N_("no manifest loaded"),
}
KIND_LABELS = {"business": N_("business"), "charity": N_("charity")}
MEMBER_STATUS_LABELS = {"active": N_("active"), "suspended": N_("suspended")}
ROTATE_COMMAND = "konsort keys rotate"


def parse_time(text: str) -> datetime:
    """An ISO 8601 time from a service's JSON view, for the ``date`` filter."""
    return datetime.fromisoformat(text)


def summary_view(row: OutboxSummary) -> dict[str, Any]:
    return {
        "partner": row.destination,
        "queued": row.pending,
        "retrying": row.retrying,
        "answered": row.answered,
        "oldest_queued_at": row.oldest_pending,
        "last_error": row.last_error,
    }


def partners_context(
    overview: dict[str, Any],
    outbox: list[dict[str, Any]],
    offers: list[dict[str, Any]],
    *,
    can_manage: bool,
) -> dict[str, Any]:
    keys = overview["own_keys"]
    return {
        "manifest": overview["manifest"],
        "own_keys": keys,
        "newest_kid": keys[-1]["kid"] if keys else "",
        "outbox": outbox,
        "offers": offers,
        "can_manage": can_manage,
        "rotate_command": ROTATE_COMMAND,
        "key_state_labels": KEY_STATE_LABELS,
        "kind_labels": KIND_LABELS,
        "member_status_labels": MEMBER_STATUS_LABELS,
    }


def rotate_context(newest_kid: str, *, rotated: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"newest_kid": newest_kid, "rotated": rotated, "rotate_command": ROTATE_COMMAND}


def _offers(call: PageCall) -> list[dict[str, Any]]:
    node = call.node
    document = partner_rewards.offers(node.db, node.settings, now=node.clock.now())
    return [
        {
            **item.model_dump(),
            "available_until": parse_time(item.available_until) if item.available_until else None,
        }
        for item in document.items
    ]


async def partners_page(call: PageCall) -> View:
    assert call.staff is not None
    node = call.node
    overview = await call.run(
        consortium_view.consortium_overview, node.db, node.federation, now=node.clock.now()
    )
    summary = await call.run(outbox_control.outbox_summary, node.db)
    offers = await call.run(_offers, call)
    return View(
        partners_context(
            overview,
            [summary_view(row) for row in summary],
            offers,
            can_manage=allowed(call.staff.role, "partners.manage"),
        )
    )


async def rotate_page(call: PageCall) -> View:
    node = call.node
    overview = await call.run(
        consortium_view.consortium_overview, node.db, node.federation, now=node.clock.now()
    )
    keys = overview["own_keys"]
    return View(rotate_context(keys[-1]["kid"] if keys else ""))


async def rotate_key(call: PageCall) -> View | Response:
    node = call.node
    posted = await call.form()
    newest_seen = str(posted.get("newest", ""))[:120]
    rotated = await call.run(
        consortium_view.rotate_signing_key,
        node.federation,
        newest_seen=newest_seen,
        now=node.clock.now(),
    )
    return View(
        rotate_context(
            rotated.kid,
            rotated={"kid": rotated.kid, "jwk": rotated.jwk, "created": rotated.created},
        )
    )


PAGES = [
    Page(
        "/partners",
        "partners",
        partners_page,
        action="partners.view",
        template="staff/partners.html",
        nav=N_("Partners"),
    ),
    Page(
        "/partners/keys/rotate",
        "partners_key_rotate",
        rotate_page,
        action="partners.manage",
        template="staff/partner_key_rotate.html",
    ),
    Page(
        "/partners/keys/rotate",
        "partners_key_rotated",
        rotate_key,
        action="partners.manage",
        template="staff/partner_key_rotate.html",
        methods=("POST",),
    ),
]
