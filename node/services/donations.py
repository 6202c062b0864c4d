"""Donations: a member gives the value of their points to a charity member.

At the donor's node (:func:`donation_unit`), in one transaction: the value
is exact, ``value_minor = points x`` this node's point value (no conversion,
no rounding); the points go into ``escrow:<charity>`` (kind "donation");
``donation.request`` is queued and the operation recorded (kind "donation",
``pending``). The request names the donor by the charity's pseudonym when
the member has an active link with the charity and did not ask to stay
anonymous; otherwise its subject is null and the charity learns nothing of
who gave.

The charity (:func:`handle_donation_request`) checks the manifest version and
the value, credits no points, records the operation and the clearing entry
(the charity is owed ``value_minor``) and accepts with a receipt in the
settlement currency. Back at the donor's node (:func:`on_donation_answer`)
escrow goes to ``federation:out`` and the same clearing entry is written, and
the receipt is kept with the signed answer token: anyone can verify that
token with the charity's key from the manifest. A refusal refunds the points.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from node.clock import isoformat
from node.db import Database
from node.errors import Conflict, NotFound, ValidationFailed
from node.ids import new_id
from node.services import consent, ledger, outbox
from node.services.customers import require_active_txn
from node.services.escrow import conclude_outgoing_txn, escrow_account
from node.services.federation import Federation
from node.services.idempotency import Answer as ApiAnswer
from node.services.idempotency import Unit, idempotent_unit
from node.services.inbox import InboxContext
from node.store import federation as store
from node.store import partners as partner_store
from protocol import Answer, DonationRequest, Message, accept, donation_value, reject

DONATION = "donation"


def _detail(op: store.OperationRow) -> dict[str, Any]:
    return dict(json.loads(op.detail)) if op.detail else {}


def donation_json(op: store.OperationRow) -> dict[str, Any]:
    detail = _detail(op)
    return {
        "id": op.public_id,
        "charity": op.peer,
        "points": op.points,
        "value_minor": op.value_minor,
        "anonymous": bool(detail.get("anonymous", False)),
        "status": op.status,
        "reason": op.reason,
        "receipt": detail.get("receipt"),
        "created_at": isoformat(op.created_at),
        "updated_at": isoformat(op.updated_at),
    }


def donation_unit(
    fed: Federation,
    *,
    customer_id: str,
    charity: str,
    points: int,
    anonymous: bool,
    idempotency_key: str,
    now: datetime,
    actor: str | None = None,
) -> Unit:
    """Give ``points`` worth of value to ``charity``; answers 202 with the pending donation."""

    def work(session: Session) -> ApiAnswer:
        require_active_txn(session=session, customer_id=customer_id)
        manifest = fed.require_manifest_txn(session=session)
        peer = fed.member(manifest, charity)
        me = fed.member(manifest, fed.node_id)
        if peer.kind != "charity" or peer.status != "active" or charity == fed.node_id:
            raise Conflict(f"{charity} takes no donations", field="charity", code="not_a_charity")
        try:
            value = donation_value(points, point_value=me.point_value)
        except ValueError:
            raise ValidationFailed("too many points for one donation", field="points") from None
        link = store.link_for_customer(session=session, customer_id=customer_id, partner=charity)
        named = not anonymous and link is not None and link.status == "active"
        if named:  # the charity learns the member's pseudonym: a partner transfer
            consent.require_consent_txn(
                session=session, customer_id=customer_id, purpose=consent.PARTNER_TRANSFERS
            )
        body = DonationRequest(
            subject=link.partner_subject if named and link is not None else None,
            sender_points=points,
            value_minor=value,
            manifest_version=manifest.version,
        )
        posted = ledger.debit_points_txn(
            session=session,
            customer_id=customer_id,
            points=points,
            kind=DONATION,
            target_account=escrow_account(charity),
            idempotency_key=f"api:{idempotency_key}",
            reference=charity,
            now=now,
            actor=actor,
        )
        sent = outbox.enqueue_txn(session=session, fed=fed, body=body, audience=charity, now=now)
        public_id = new_id("don")
        store.insert_operation(
            session=session,
            public_id=public_id,
            kind=DONATION,
            direction="out",
            peer=charity,
            ref=f"{fed.node_id}:{sent.message_id}",
            customer_id=customer_id,
            points=-points,
            peer_points=0,
            value_minor=value,
            kept_minor=0,
            status="pending",
            reason=None,
            request_iat=sent.issued_at,
            detail=json.dumps({"anonymous": not named}),
            now=now,
        )
        return ApiAnswer(
            202,
            {
                "donation": {
                    "id": public_id,
                    "charity": charity,
                    "points": -points,
                    "value_minor": value,
                    "anonymous": not named,
                    "status": "pending",
                },
                "balance": posted.balance,
            },
        )

    return idempotent_unit(
        key=idempotency_key,
        operation="donation",
        request={
            "customer_id": customer_id,
            "charity": charity,
            "points": points,
            "anonymous": anonymous,
        },
        now=now,
        work=work,
    )


def on_donation_answer(
    session: Session, fed: Federation, received: outbox.ReceivedAnswer, now: datetime
) -> None:
    """At the donor's node: keep the receipt and its signed token, or refund."""
    request, answer = received.request, received.answer
    assert isinstance(request, DonationRequest)
    ref = f"{fed.node_id}:{received.message_id}"
    op = store.operation_by_ref(session=session, ref=ref)
    if op is None:
        return
    accepted = answer.outcome == "accepted"
    detail = _detail(op)
    receipt = getattr(answer, "receipt", None)
    if accepted and receipt is not None:
        detail["receipt"] = receipt.model_dump(mode="json")
        detail["answer_token"] = received.token
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
        kind=DONATION,
        reference=ref,
        now=now,
    )


def customer_donations(
    db: Database, *, customer_id: str, limit: int = 50
) -> list[store.OperationRow]:
    with db.read() as session:
        require_active_txn(session=session, customer_id=customer_id)
        return partner_store.customer_operations_of_kind(
            session=session, customer_id=customer_id, kind=DONATION, direction="out", limit=limit
        )


@dataclass(frozen=True)
class DonationReceiptDocument:
    donation: store.OperationRow
    receipt: dict[str, Any]
    #: The charity's signed ``donation.answer`` (compact JWS) carrying the receipt.
    answer_token: str


def donation_receipt(
    db: Database, *, customer_id: str, donation_id: str
) -> DonationReceiptDocument:
    """The receipt of one of the member's accepted donations, with its signed token."""
    with db.read() as session:
        require_active_txn(session=session, customer_id=customer_id)
        op = partner_store.customer_operation(
            session=session, customer_id=customer_id, public_id=donation_id
        )
    if op is None or op.kind != DONATION or op.direction != "out":
        raise NotFound("no such donation", field="id")
    detail = _detail(op)
    if op.status != "accepted" or "receipt" not in detail:
        raise Conflict(
            f"the donation is {op.status}; only an accepted one has a receipt",
            field="id",
            code="no_receipt",
        )
    return DonationReceiptDocument(op, detail["receipt"], str(detail["answer_token"]))


def handle_donation_request(session: Session, ctx: InboxContext, message: Message) -> Answer:
    """At the charity: record the gift and answer with a receipt, once."""
    body = message.body
    assert isinstance(body, DonationRequest)
    fed, manifest = ctx.federation, ctx.manifest
    sender, me = manifest.member(message.issuer), manifest.member(fed.node_id)
    assert sender is not None and me is not None
    if me.kind != "charity":
        return reject(message, "not_supported")
    if body.manifest_version != manifest.version:
        return reject(message, "manifest_mismatch")
    if body.value_minor != body.sender_points * sender.point_value:
        return reject(message, "conversion_mismatch")
    donor = ""  # anonymous: the charity knows no member
    if body.subject is not None:
        link = store.link_by_subject(
            session=session, partner=message.issuer, our_subject=body.subject
        )
        if link is None or link.status != "active":
            return reject(message, "unknown_subject")
        if not consent.has_consent_txn(
            session=session, customer_id=link.customer_id, purpose=consent.PARTNER_TRANSFERS
        ):
            return reject(message, "consent_missing")
        donor = link.customer_id
    ref = f"{message.issuer}:{message.message_id}"
    receipt_id = new_id("rcpt")
    store.insert_operation(
        session=session,
        public_id=new_id("don"),
        kind=DONATION,
        direction="in",
        peer=message.issuer,
        ref=ref,
        customer_id=donor,
        points=0,
        peer_points=body.sender_points,
        value_minor=body.value_minor,
        kept_minor=0,
        status="accepted",
        reason=None,
        request_iat=message.issued_at,
        detail=json.dumps({"receipt_id": receipt_id}),
        now=ctx.now,
    )
    store.insert_clearing(
        session=session,
        peer=message.issuer,
        ref=ref,
        kind=DONATION,
        creditor=fed.node_id,
        value_minor=body.value_minor,
        request_iat=message.issued_at,
        now=ctx.now,
    )
    return accept(
        message,
        receipt={
            "receipt_id": receipt_id,
            "value_minor": body.value_minor,
            "currency": manifest.settlement_currency,
        },
    )
