"""Partner rewards: a member of node A pays A's points for node B's reward.

B offers some of its rewards to partner customers (``Reward.partner_offer``)
and publishes them, priced in B's points, at ``GET /federation/v1/offers``
(:func:`offers`). A fetches that list for its member (:func:`partner_offers`)
and shows each price in A's points: ``conversion_for(price)``, the fewest of
A's points that cover the reward's value.

Redeeming (:func:`redeem_partner_reward`) fetches B's price, then in one
transaction at A: debit the member's ``sender_points`` into ``escrow:<B>``
(kind "partner-reward"), queue ``redemption.request`` and record the
operation (kind "redemption", ``pending``). B decides in its inbox
(:func:`handle_redemption_request`): the link, the manifest version, the
four numbers, and the reward (offered to partners, available, the member's
tier, the per-customer limit, then a stock unit, the only check that
writes, so a refusal never leaves a write). Accepting moves the price from
``federation:in`` to ``program:redeemed`` at B, issues an ordinary voucher to
B's side of the member (B's till checks and uses it like any other) and
writes the clearing entry (B is owed ``value_minor``). The voucher travels
back in B's signed answer; A (:func:`on_redemption_answer`) releases escrow
and writes the same clearing entry, or refunds the points.

A partner voucher with no ``voucher_valid_days`` is valid for
:data:`PARTNER_VOUCHER_DAYS`: the protocol's voucher always names its
``valid_until``. It cannot be cancelled at B (``partner_voucher``, 409,
node.services.vouchers): the member paid with A's points, so B has none of
theirs to give back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from node.clock import isoformat
from node.db import Database
from node.errors import Conflict, KonsortError, NotFound, ValidationFailed
from node.ids import new_id
from node.program.config import Reward
from node.services import consent, ledger, outbox, rewards
from node.services.customers import require_active_txn
from node.services.escrow import (
    FEDERATION_IN,
    conclude_outgoing_txn,
    escrow_account,
)
from node.services.events import record_event_txn
from node.services.federation import Federation, from_unix, unix
from node.services.idempotency import Answer as ApiAnswer
from node.services.idempotency import Unit, idempotent_unit, run_idempotent_async
from node.services.inbox import InboxContext
from node.services.program import program_at_txn
from node.services.vouchers import PARTNER_REWARD_KIND, new_voucher_code
from node.settings import Settings
from node.store import federation as store
from node.store import idempotency as idempotency_store
from node.store import ledger as ledger_store
from node.store import partners as partner_store
from node.store import rewards as reward_store
from protocol import (
    Answer,
    Manifest,
    Member,
    Message,
    RedemptionRequest,
    accept,
    conversion_for,
    reject,
)

REDEMPTION = "redemption"
REWARD_KIND = PARTNER_REWARD_KIND
OFFERS_PATH = "/federation/v1/offers"
PARTNER_VOUCHER_DAYS = 365


class PartnerUnreachable(KonsortError):
    """The partner did not answer, or answered something that is not its offers."""

    code = "partner_unreachable"
    http_status = 502


# -- this node's offers -----------------------------------------------------------


class OfferItem(BaseModel):
    """One reward this node offers partner customers, priced in its own points."""

    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)

    reward_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")]
    name: Annotated[str, Field(min_length=1, max_length=100)]
    points: Annotated[int, Field(gt=0, le=10**9)]
    stock_left: Annotated[int, Field(ge=0)] | None
    available_until: str | None


class OffersDocument(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)

    node_id: str
    items: Annotated[list[OfferItem], Field(max_length=500)]


def _offer(entry: rewards.CatalogueEntry) -> OfferItem:
    reward = entry.reward
    until = reward.available_until
    return OfferItem(
        reward_id=reward.code,
        name=reward.name,
        points=reward.points,
        stock_left=entry.stock_left,
        available_until=isoformat(until) if until is not None else None,
    )


def offers(db: Database, settings: Settings, *, now: datetime) -> OffersDocument:
    """This node's partner offers in force now (available, with stock left)."""
    entries = rewards.catalogue(db, settings, now=now)
    return OffersDocument(
        node_id=settings.node_id,
        items=[_offer(entry) for entry in entries if entry.reward.partner_offer],
    )


# -- a partner's offers, seen from here -------------------------------------------


@dataclass(frozen=True)
class PartnerOffer:
    offer: OfferItem
    partner: str
    #: The reward's price in this node's points (what the member pays).
    points: int


def _business_partner_txn(
    session: Session, fed: Federation, partner: str
) -> tuple[Manifest, Member, Member]:
    manifest = fed.require_manifest_txn(session=session)
    if partner == fed.node_id:
        raise ValidationFailed("partner rewards come from another node", field="partner")
    peer = fed.member(manifest, partner)
    if peer.kind != "business" or peer.status != "active":
        raise Conflict(
            f"{partner} offers no partner rewards", field="partner", code="partner_unavailable"
        )
    return manifest, peer, fed.member(manifest, fed.node_id)


async def fetch_offers(client: httpx.AsyncClient, peer: Member) -> OffersDocument:
    """The partner's published offers, over HTTP."""
    try:
        response = await client.get(peer.endpoint.rstrip("/") + OFFERS_PATH)
    except httpx.HTTPError:
        raise PartnerUnreachable(f"{peer.node_id} did not answer; try again later") from None
    if response.status_code != 200:
        raise PartnerUnreachable(f"{peer.node_id} answered HTTP {response.status_code}")
    try:
        document = OffersDocument.model_validate_json(response.content)
    except ValidationError:
        raise PartnerUnreachable(f"{peer.node_id} answered no offers document") from None
    if document.node_id != peer.node_id:
        raise PartnerUnreachable(f"{peer.node_id} answered for another node")
    return document


async def partner_offers(
    db: Database,
    fed: Federation,
    *,
    client: httpx.AsyncClient,
    customer_id: str,
    partner: str,
    now: datetime,
) -> list[PartnerOffer]:
    """``partner``'s offers in force, each priced in this node's points."""

    def read() -> tuple[Member, Member]:
        with db.read() as session:
            require_active_txn(session=session, customer_id=customer_id)
            _, peer, me = _business_partner_txn(session, fed, partner)
            return peer, me

    peer, me = await run_in_threadpool(read)
    document = await fetch_offers(client, peer)
    return [
        PartnerOffer(
            item,
            partner,
            conversion_for(
                item.points, from_value=me.point_value, to_value=peer.point_value
            ).sender_points,
        )
        for item in document.items
    ]


def partner_offer_json(found: PartnerOffer) -> dict[str, Any]:
    return {
        "partner": found.partner,
        "reward_id": found.offer.reward_id,
        "name": found.offer.name,
        "points": found.points,
        "partner_points": found.offer.points,
        "stock_left": found.offer.stock_left,
        "available_until": found.offer.available_until,
    }


# -- redeeming at the member's node -----------------------------------------------


def _detail(op: store.OperationRow) -> dict[str, Any]:
    return dict(json.loads(op.detail)) if op.detail else {}


def redemption_json(op: store.OperationRow) -> dict[str, Any]:
    detail = _detail(op)
    return {
        "id": op.public_id,
        "partner": op.peer,
        "reward_id": detail.get("reward_id"),
        "name": detail.get("name"),
        "points": op.points,
        "partner_points": op.peer_points,
        "value_minor": op.value_minor,
        "status": op.status,
        "reason": op.reason,
        "voucher": detail.get("voucher"),
        "created_at": isoformat(op.created_at),
        "updated_at": isoformat(op.updated_at),
    }


def redemption_unit(
    fed: Federation,
    *,
    customer_id: str,
    partner: str,
    offer: OfferItem | None,
    reward: str,
    idempotency_key: str,
    now: datetime,
    actor: str | None = None,
) -> Unit:
    """Pay ``offer`` (the partner's reward ``reward`` at its published price).

    ``offer`` may be None only when the key was used already (a replay).
    """

    def work(session: Session) -> ApiAnswer:
        require_active_txn(session=session, customer_id=customer_id)
        consent.require_consent_txn(
            session=session, customer_id=customer_id, purpose=consent.PARTNER_TRANSFERS
        )
        manifest, peer, me = _business_partner_txn(session, fed, partner)
        link = store.link_for_customer(session=session, customer_id=customer_id, partner=partner)
        if link is None or link.status != "active":
            raise Conflict(f"no active link with {partner}", field="partner", code="not_linked")
        if offer is None:
            raise Conflict(
                f"{partner} offers no such reward now", field="reward", code="reward_unavailable"
            )
        conversion = conversion_for(
            offer.points, from_value=me.point_value, to_value=peer.point_value
        )
        body = RedemptionRequest(
            subject=link.partner_subject,
            reward_id=offer.reward_id,
            sender_points=conversion.sender_points,
            receiver_points=conversion.receiver_points,
            value_minor=conversion.value_minor,
            sender_kept_minor=conversion.sender_kept_minor,
            manifest_version=manifest.version,
        )
        posted = ledger.debit_points_txn(
            session=session,
            customer_id=customer_id,
            points=conversion.sender_points,
            kind=REWARD_KIND,
            target_account=escrow_account(partner),
            idempotency_key=f"api:{idempotency_key}",
            reference=partner,
            now=now,
            actor=actor,
        )
        sent = outbox.enqueue_txn(session=session, fed=fed, body=body, audience=partner, now=now)
        public_id = new_id("rdm")
        store.insert_operation(
            session=session,
            public_id=public_id,
            kind=REDEMPTION,
            direction="out",
            peer=partner,
            ref=f"{fed.node_id}:{sent.message_id}",
            customer_id=customer_id,
            points=-conversion.sender_points,
            peer_points=conversion.receiver_points,
            value_minor=conversion.value_minor,
            kept_minor=conversion.sender_kept_minor,
            status="pending",
            reason=None,
            request_iat=sent.issued_at,
            detail=json.dumps({"reward_id": offer.reward_id, "name": offer.name}),
            now=now,
        )
        return ApiAnswer(
            202,
            {
                "redemption": {
                    "id": public_id,
                    "partner": partner,
                    "reward_id": offer.reward_id,
                    "points": -conversion.sender_points,
                    "partner_points": conversion.receiver_points,
                    "status": "pending",
                },
                "balance": posted.balance,
            },
        )

    return idempotent_unit(
        key=idempotency_key,
        operation="partner-redemption",
        request={"customer_id": customer_id, "partner": partner, "reward": reward},
        now=now,
        work=work,
    )


async def redeem_partner_reward(
    db: Database,
    fed: Federation,
    *,
    client: httpx.AsyncClient,
    customer_id: str,
    partner: str,
    reward: str,
    idempotency_key: str,
    now: datetime,
    actor: str | None = None,
) -> ApiAnswer:
    """Fetch the partner's price (unless this key was answered already), then pay."""

    def answered_before() -> bool:
        with db.read() as session:
            return idempotency_store.find_answer(session=session, key=idempotency_key) is not None

    offer: OfferItem | None = None
    if not await run_in_threadpool(answered_before):
        found = await partner_offers(
            db, fed, client=client, customer_id=customer_id, partner=partner, now=now
        )
        offer = next((o.offer for o in found if o.offer.reward_id == reward), None)
    unit = redemption_unit(
        fed,
        customer_id=customer_id,
        partner=partner,
        offer=offer,
        reward=reward,
        idempotency_key=idempotency_key,
        now=now,
        actor=actor,
    )
    return await run_idempotent_async(db, unit)


def on_redemption_answer(
    session: Session, fed: Federation, received: outbox.ReceivedAnswer, now: datetime
) -> None:
    """At the member's node: keep the voucher and release escrow, or refund."""
    request, answer = received.request, received.answer
    assert isinstance(request, RedemptionRequest)
    ref = f"{fed.node_id}:{received.message_id}"
    op = store.operation_by_ref(session=session, ref=ref)
    if op is None:
        return
    accepted = answer.outcome == "accepted"
    detail = _detail(op)
    voucher = getattr(answer, "voucher", None)
    if accepted and voucher is not None:
        detail["voucher"] = {
            "code": voucher.code,
            "reward_id": voucher.reward_id,
            "valid_until": isoformat(from_unix(voucher.valid_until)),
        }
    if not store.finish_operation(
        session=session,
        ref=ref,
        status="accepted" if accepted else "rejected",
        reason=answer.reason,
        detail=json.dumps(detail),
        now=now,
    ):
        return
    conclude_outgoing_txn(
        session=session,
        fed=fed,
        op=op,
        accepted=accepted,
        points=request.sender_points,
        value_minor=request.value_minor,
        kind=REDEMPTION,
        reference=ref,
        now=now,
    )


def customer_redemptions(
    db: Database, *, customer_id: str, limit: int = 50
) -> list[store.OperationRow]:
    with db.read() as session:
        require_active_txn(session=session, customer_id=customer_id)
        return partner_store.customer_operations_of_kind(
            session=session, customer_id=customer_id, kind=REDEMPTION, direction="out", limit=limit
        )


# -- issuing at the reward's node -------------------------------------------------


def _offered_to(session: Session, reward: Reward | None, customer_id: str, now: datetime) -> bool:
    if reward is None or not reward.partner_offer or not reward.available_at(now):
        return False
    if not reward.tiers:
        return True
    return reward_store.member_tier(session=session, customer_id=customer_id) in reward.tiers


def handle_redemption_request(session: Session, ctx: InboxContext, message: Message) -> Answer:
    """At the reward's node: issue the voucher to the member's account here, once."""
    body = message.body
    assert isinstance(body, RedemptionRequest)
    fed, manifest, now = ctx.federation, ctx.manifest, ctx.now
    link = store.link_by_subject(session=session, partner=message.issuer, our_subject=body.subject)
    if link is None or link.status != "active":
        return reject(message, "unknown_subject")
    try:
        require_active_txn(session=session, customer_id=link.customer_id)
    except NotFound:
        return reject(message, "unknown_subject")
    if not consent.has_consent_txn(
        session=session, customer_id=link.customer_id, purpose=consent.PARTNER_TRANSFERS
    ):
        return reject(message, "consent_missing")
    if body.manifest_version != manifest.version:
        return reject(message, "manifest_mismatch")
    sender, me = manifest.member(message.issuer), manifest.member(fed.node_id)
    assert sender is not None and me is not None
    expected = conversion_for(
        body.receiver_points, from_value=sender.point_value, to_value=me.point_value
    )
    if (expected.sender_points, expected.value_minor, expected.sender_kept_minor) != (
        body.sender_points,
        body.value_minor,
        body.sender_kept_minor,
    ):
        return reject(message, "conversion_mismatch")
    assert fed.settings is not None
    program = program_at_txn(session=session, settings=fed.settings, moment=now).program
    reward = program.reward(body.reward_id)
    if not _offered_to(session, reward, link.customer_id, now):
        return reject(message, "reward_unavailable")
    assert reward is not None
    if reward.points != body.receiver_points:
        return reject(message, "conversion_mismatch")  # priced from an older offer
    account_id = ledger.customer_account_id_txn(session=session, customer_id=link.customer_id)
    ledger_store.lock_account(session=session, account_id=account_id)  # the limit count holds
    if reward.per_customer_limit is not None:
        held = reward_store.vouchers_held(session=session, customer_id=link.customer_id)
        if held.get(reward.code, 0) >= reward.per_customer_limit:
            return reject(message, "limit_exceeded")
    # The last check and the first write: nothing is written before it can refuse.
    if not reward_store.take_stock_unit(
        session=session, reward_code=reward.code, stock=reward.stock
    ):
        return reject(message, "reward_unavailable")
    ref = f"{message.issuer}:{message.message_id}"
    incoming = ledger.system_account_txn(session=session, code=FEDERATION_IN, now=now)
    redeemed = ledger.system_account_txn(session=session, code=ledger.REDEEMED, now=now)
    posted = ledger.post_transaction_txn(
        session=session,
        kind=REWARD_KIND,
        customer_id=link.customer_id,
        points=0,
        postings=[
            ledger.Posting(incoming, -reward.points),
            ledger.Posting(redeemed, reward.points),
        ],
        idempotency_key=None,
        reference=message.issuer,
        now=now,
        actor="system",
    )
    expires = now + timedelta(days=reward.voucher_valid_days or PARTNER_VOUCHER_DAYS)
    voucher = reward_store.insert_voucher(
        session=session,
        code=new_voucher_code(),
        reward_code=reward.code,
        customer_id=link.customer_id,
        points=reward.points,
        transaction_id=posted.id,
        issued_at=now,
        expires_at=expires,
    )
    record_event_txn(
        session=session,
        type=rewards.VOUCHER_ISSUED,
        payload={
            "customer_id": link.customer_id,
            "code": voucher.code,
            "reward": reward.code,
            "points": reward.points,
            "expires_at": isoformat(expires),
        },
        now=now,
    )
    store.insert_operation(
        session=session,
        public_id=new_id("rdm"),
        kind=REDEMPTION,
        direction="in",
        peer=message.issuer,
        ref=ref,
        customer_id=link.customer_id,
        points=0,
        peer_points=body.sender_points,
        value_minor=body.value_minor,
        kept_minor=body.sender_kept_minor,
        status="accepted",
        reason=None,
        request_iat=message.issued_at,
        detail=json.dumps({"reward_id": reward.code}),
        now=now,
    )
    store.insert_clearing(
        session=session,
        peer=message.issuer,
        ref=ref,
        kind=REDEMPTION,
        creditor=fed.node_id,
        value_minor=body.value_minor,
        request_iat=message.issued_at,
        now=now,
    )
    return accept(
        message,
        voucher={"code": voucher.code, "reward_id": reward.code, "valid_until": unix(expires)},
    )
