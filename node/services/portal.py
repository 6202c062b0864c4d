"""What the member portal (/me) reads: one call per page.

``member_overview`` gathers the start page (balance, tier and the distance to
the next, points expiring soon, recent history); ``transfer_options`` the
partners a member can move points to, with their point values; and
``preview_transfer`` the converted amount a transfer would credit, by the same
rule (protocol.convert_points, the sender pays the rounding) that
``transfers.start_transfer_unit`` applies, so what the member confirms is what
moves. Nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from starlette.concurrency import run_in_threadpool

from node.db import Database
from node.errors import Conflict, ValidationFailed
from node.services import (
    donations,
    expiry_warnings,
    ledger,
    links,
    partner_rewards,
    points,
    tiers,
    transfers,
)
from node.services.federation import Federation
from node.settings import Settings
from protocol import Conversion, ConversionError, convert_points

#: How far ahead the start page warns of expiring points.
EXPIRY_HORIZON_DAYS = 30
HISTORY_ROWS = 20


@dataclass(frozen=True)
class MemberOverview:
    balance: ledger.Balance
    tier: tiers.TierStatus
    #: Points expiring within EXPIRY_HORIZON_DAYS and their lots, soonest first.
    expiring: dict[str, Any]
    history: list[dict[str, Any]]


def member_overview(
    db: Database, settings: Settings, *, customer_id: str, now: datetime
) -> MemberOverview:
    """The portal's start page for one member."""
    return MemberOverview(
        balance=ledger.customer_balance(db, customer_id=customer_id, now=now),
        tier=tiers.tier_status(db, settings, customer_id=customer_id, now=now),
        expiring=expiry_warnings.customer_expiring(
            db, customer_id=customer_id, now=now, within_days=EXPIRY_HORIZON_DAYS, limit=10
        ),
        history=points.customer_history(
            db, customer_id=customer_id, limit=HISTORY_ROWS, cursor=None
        ).items,
    )


@dataclass(frozen=True)
class TransferPartner:
    node_id: str
    display_name: str
    #: Minor units of the consortium currency per point, here and at the partner.
    our_point_value: int
    point_value: int


@dataclass(frozen=True)
class TransferOptions:
    partners: list[TransferPartner]
    balance: int
    #: The member's recent transfers (transfers.operation_json), newest first.
    operations: list[dict[str, Any]]


def transfer_options(
    db: Database, fed: Federation, *, customer_id: str, now: datetime
) -> TransferOptions:
    """The businesses the member has an active link with (no manifest: none)."""
    found = links.customer_links(db, customer_id=customer_id)
    balance = ledger.customer_balance(db, customer_id=customer_id, now=now).points
    operations = [
        transfers.operation_json(op)
        for op in transfers.customer_operations(db, customer_id=customer_id, limit=10)
        if op.kind == transfers.TRANSFER
    ]
    with db.read() as session:
        manifest = fed.manifest_txn(session=session)
    if manifest is None:
        return TransferOptions([], balance, operations)
    me = manifest.member(fed.node_id)
    partners = []
    for link in found:
        peer = manifest.member(link.partner)
        if (
            me is not None
            and peer is not None
            and link.status == links.ACTIVE
            and peer.kind == "business"
            and peer.status == "active"
        ):
            partners.append(
                TransferPartner(peer.node_id, peer.display_name, me.point_value, peer.point_value)
            )
    return TransferOptions(partners, balance, operations)


@dataclass(frozen=True)
class TransferPreview:
    partner: TransferPartner
    conversion: Conversion


def preview_transfer(
    db: Database, fed: Federation, *, customer_id: str, partner: str, points: int, now: datetime
) -> TransferPreview:
    """What moving ``points`` to ``partner`` takes and credits; refused as the transfer is."""
    options = transfer_options(db, fed, customer_id=customer_id, now=now)
    chosen = next((p for p in options.partners if p.node_id == partner), None)
    if chosen is None:
        raise Conflict(f"no active link with {partner}", field="partner", code="not_linked")
    if points <= 0:
        raise ValidationFailed("points must be a whole number above zero", field="points")
    if points > options.balance:
        raise ValidationFailed(
            f"you have {options.balance} points; choose at most that many", field="points"
        )
    try:
        conversion = convert_points(
            points, from_value=chosen.our_point_value, to_value=chosen.point_value
        )
    except ConversionError:
        raise ValidationFailed(
            f"{points} points buy no whole point at {partner}", field="points"
        ) from None
    return TransferPreview(chosen, conversion)


@dataclass(frozen=True)
class Charity:
    node_id: str
    display_name: str


@dataclass(frozen=True)
class DonationOptions:
    charities: list[Charity]
    balance: int
    #: The member's donations (donations.donation_json), newest first.
    donations: list[dict[str, Any]]


def donation_options(
    db: Database, fed: Federation, *, customer_id: str, now: datetime
) -> DonationOptions:
    """The active charities of the consortium, the member's balance and past donations."""
    balance = ledger.customer_balance(db, customer_id=customer_id, now=now).points
    given = [
        donations.donation_json(op)
        for op in donations.customer_donations(db, customer_id=customer_id, limit=20)
    ]
    with db.read() as session:
        manifest = fed.manifest_txn(session=session)
    charities = []
    if manifest is not None:
        charities = [
            Charity(member.node_id, member.display_name)
            for member in manifest.members
            if member.kind == "charity"
            and member.status == "active"
            and member.node_id != fed.node_id
        ]
    return DonationOptions(charities, balance, given)


@dataclass(frozen=True)
class LinkOptions:
    #: The consortium's active businesses other than this node: (node id, name).
    partners: list[tuple[str, str]]
    #: The member's links (links.link_json) with the partner's name, newest first.
    links: list[dict[str, Any]]


def link_options(db: Database, fed: Federation, *, customer_id: str) -> LinkOptions:
    """The businesses a member may link an account with, and their links so far."""
    found = links.customer_links(db, customer_id=customer_id)
    with db.read() as session:
        manifest = fed.manifest_txn(session=session)
    names: dict[str, str] = {}
    partners: list[tuple[str, str]] = []
    if manifest is not None:
        for member in manifest.members:
            names[member.node_id] = member.display_name
            if (
                member.kind == "business"
                and member.status == "active"
                and member.node_id != fed.node_id
            ):
                partners.append((member.node_id, member.display_name))
    listed = [
        {**links.link_json(link), "name": names.get(link.partner, link.partner)} for link in found
    ]
    return LinkOptions(partners, listed)


@dataclass(frozen=True)
class PartnerRewardOptions:
    #: The businesses the member has an active link with: (node id, name).
    partners: list[tuple[str, str]]
    #: The partner whose offers are shown ("" when there is none).
    partner: str
    offers: list[partner_rewards.PartnerOffer]
    #: Why no offers could be shown (the partner did not answer), else None.
    offers_error: str | None
    #: The member's partner rewards (partner_rewards.redemption_json), newest first.
    redemptions: list[dict[str, Any]]
    balance: int


async def partner_reward_options(
    db: Database,
    fed: Federation,
    *,
    client: httpx.AsyncClient,
    customer_id: str,
    partner: str | None,
    now: datetime,
) -> PartnerRewardOptions:
    """One linked partner's offers in the member's points, and the member's vouchers."""

    def read() -> tuple[TransferOptions, list[dict[str, Any]]]:
        options = transfer_options(db, fed, customer_id=customer_id, now=now)
        found = partner_rewards.customer_redemptions(db, customer_id=customer_id, limit=20)
        return options, [partner_rewards.redemption_json(op) for op in found]

    options, redemptions = await run_in_threadpool(read)
    partners = [(p.node_id, p.display_name) for p in options.partners]
    ids = [node_id for node_id, _ in partners]
    chosen = partner if partner in ids else (ids[0] if ids else "")
    offers: list[partner_rewards.PartnerOffer] = []
    error = None
    if chosen:
        try:
            offers = await partner_rewards.partner_offers(
                db, fed, client=client, customer_id=customer_id, partner=chosen, now=now
            )
        except partner_rewards.PartnerUnreachable as exc:
            error = exc.message
    return PartnerRewardOptions(partners, chosen, offers, error, redemptions, options.balance)
