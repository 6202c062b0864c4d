"""Point transfers between nodes: escrow, one final outcome, clearing.

Sender (node A), ``start_transfer_unit``, in one transaction: convert the
points by the manifest's point values (protocol.value: integer, the sender
pays rounding up, what it keeps is ``sender_kept_minor``), debit the member's
``sender_points`` into ``escrow:<B>``, queue ``transfer.request`` in the
outbox and record the operation as ``pending``. The points are visible in
escrow until B answers:

- accepted: escrow moves to ``federation:out`` (the points left this node's
  program) and a clearing entry says A owes B ``value_minor``;
- rejected: escrow goes back to the member as a new lot.

Receiver (node B), ``handle_transfer_request``, in the inbox's transaction:
find the member by B's own pseudonym, check the manifest version and
recompute the four numbers; credit ``receiver_points`` from
``federation:in`` and write the clearing entry (B is owed ``value_minor``).
A first delivery after ``exp`` is rejected by the inbox before this runs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from node.clock import isoformat
from node.db import Database
from node.errors import Conflict, ValidationFailed
from node.ids import new_id
from node.services import consent, ledger, outbox
from node.services.customers import require_active_txn
from node.services.escrow import (
    FEDERATION_IN,
    conclude_outgoing_txn,
    escrow_account,
    program_expiry_days,
)
from node.services.federation import Federation
from node.services.idempotency import Answer as ApiAnswer
from node.services.idempotency import Unit, idempotent_unit
from node.services.inbox import InboxContext
from node.store import federation as store
from protocol import (
    Answer,
    ConversionError,
    ItemResult,
    Message,
    RejectReason,
    TransferBatch,
    TransferBatchAnswer,
    TransferItem,
    TransferRequest,
    accept,
    conversion_for,
    convert_points,
    reject,
)

TRANSFER = "transfer"


def operation_json(op: store.OperationRow) -> dict[str, Any]:
    return {
        "id": op.public_id,
        "kind": op.kind,
        "direction": op.direction,
        "partner": op.peer,
        "points": op.points,
        "partner_points": op.peer_points,
        "value_minor": op.value_minor,
        "status": op.status,
        "reason": op.reason,
        "created_at": isoformat(op.created_at),
        "updated_at": isoformat(op.updated_at),
    }


def start_transfer_unit(
    fed: Federation,
    *,
    customer_id: str,
    partner: str,
    points: int,
    idempotency_key: str,
    now: datetime,
    actor: str | None = None,
) -> Unit:
    """Move up to ``points`` of the member's points to their account at ``partner``."""

    def work(session: Session) -> ApiAnswer:
        require_active_txn(session=session, customer_id=customer_id)
        consent.require_consent_txn(
            session=session, customer_id=customer_id, purpose=consent.PARTNER_TRANSFERS
        )
        manifest = fed.require_manifest_txn(session=session)
        if partner == fed.node_id:
            raise ValidationFailed("points move to another node, not this one", field="partner")
        peer = fed.member(manifest, partner)
        me = fed.member(manifest, fed.node_id)
        if peer.kind != "business" or peer.status != "active":
            raise Conflict(
                f"{partner} does not take transfers", field="partner", code="partner_unavailable"
            )
        link = store.link_for_customer(session=session, customer_id=customer_id, partner=partner)
        if link is not None and link.status == "restricted":  # GDPR Art. 18 (partner_notices)
            raise Conflict(
                f"the link with {partner} is restricted; no transfers over it",
                field="partner",
                code="link_restricted",
            )
        if link is None or link.status != "active":
            raise Conflict(f"no active link with {partner}", field="partner", code="not_linked")
        try:
            conversion = convert_points(
                points, from_value=me.point_value, to_value=peer.point_value
            )
        except ConversionError:
            raise ValidationFailed(
                f"{points} points buy no whole point at {partner}", field="points"
            ) from None
        body = TransferRequest(
            subject=link.partner_subject,
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
            kind="transfer-out",
            target_account=escrow_account(partner),
            idempotency_key=f"api:{idempotency_key}",
            reference=partner,
            now=now,
            actor=actor,
        )
        sent = outbox.enqueue_txn(session=session, fed=fed, body=body, audience=partner, now=now)
        public_id = new_id("xfr")
        store.insert_operation(
            session=session,
            public_id=public_id,
            kind=TRANSFER,
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
            detail=None,
            now=now,
        )
        return ApiAnswer(
            202,
            {
                "transfer": {
                    "id": public_id,
                    "partner": partner,
                    "points": -conversion.sender_points,
                    "partner_points": conversion.receiver_points,
                    "status": "pending",
                },
                "balance": posted.balance,
            },
        )

    return idempotent_unit(
        key=idempotency_key,
        operation="transfer",
        request={"customer_id": customer_id, "partner": partner, "points": points},
        now=now,
        work=work,
    )


def on_transfer_answer(
    session: Session, fed: Federation, received: outbox.ReceivedAnswer, now: datetime
) -> None:
    """At the sender: release escrow to the partner, or give the points back."""
    request, answer = received.request, received.answer
    assert isinstance(request, TransferRequest)
    _settle_out_txn(
        session,
        fed,
        ref=f"{fed.node_id}:{received.message_id}",
        reason=answer.reason if answer.outcome == "rejected" else None,
        sender_points=request.sender_points,
        value_minor=request.value_minor,
        now=now,
    )


def on_transfer_batch_answer(
    session: Session, fed: Federation, received: outbox.ReceivedAnswer, now: datetime
) -> None:
    """At the sender: settle each item of a batch by its own result."""
    request, answer = received.request, received.answer
    assert isinstance(request, TransferBatch) and isinstance(answer, TransferBatchAnswer)
    results = {result.item: result for result in answer.results}
    for item in request.transfers:
        if answer.outcome == "rejected":
            reason: RejectReason | None = answer.reason
        else:
            reason = results[item.item].reason
        _settle_out_txn(
            session,
            fed,
            ref=f"{fed.node_id}:{received.message_id}:{item.item}",
            reason=reason,
            sender_points=item.sender_points,
            value_minor=item.value_minor,
            now=now,
        )


def _settle_out_txn(
    session: Session,
    fed: Federation,
    *,
    ref: str,
    reason: RejectReason | None,
    sender_points: int,
    value_minor: int,
    now: datetime,
) -> None:
    """One outgoing transfer's final outcome: accepted when ``reason`` is None."""
    op = store.operation_by_ref(session=session, ref=ref)
    if op is None:
        return
    status = "rejected" if reason else "accepted"
    if not store.finish_operation(
        session=session, ref=ref, status=status, reason=reason, detail=None, now=now
    ):
        return
    conclude_outgoing_txn(
        session=session,
        fed=fed,
        op=op,
        accepted=status == "accepted",
        points=sender_points,
        value_minor=value_minor,
        kind=TRANSFER,
        reference=ref,
        now=now,
    )


def _credit_incoming_txn(
    session: Session,
    ctx: InboxContext,
    message: Message,
    *,
    ref: str,
    item: TransferItem | TransferRequest,
    manifest_version: int,
) -> RejectReason | None:
    """Credit one incoming transfer (a request, or one item of a batch); why not, or None."""
    fed, manifest = ctx.federation, ctx.manifest
    link = store.link_by_subject(session=session, partner=message.issuer, our_subject=item.subject)
    if link is not None and link.status == "restricted":  # GDPR Art. 18 (partner_notices)
        return "policy"
    if link is None or link.status != "active":
        return "unknown_subject"
    if not consent.has_consent_txn(
        session=session, customer_id=link.customer_id, purpose=consent.PARTNER_TRANSFERS
    ):
        return "consent_missing"
    if manifest_version != manifest.version:
        return "manifest_mismatch"
    sender, me = manifest.member(message.issuer), manifest.member(fed.node_id)
    assert sender is not None and me is not None
    expected = conversion_for(
        item.receiver_points, from_value=sender.point_value, to_value=me.point_value
    )
    if (expected.sender_points, expected.value_minor, expected.sender_kept_minor) != (
        item.sender_points,
        item.value_minor,
        item.sender_kept_minor,
    ):
        return "conversion_mismatch"
    ledger.credit_points_txn(
        session=session,
        customer_id=link.customer_id,
        points=item.receiver_points,
        kind="transfer-in",
        source_account=FEDERATION_IN,
        idempotency_key=None,
        reference=message.issuer,
        now=ctx.now,
        expiry_days=program_expiry_days(session, fed, ctx.now),
        actor="system",
    )
    store.insert_operation(
        session=session,
        public_id=new_id("xfr"),
        kind=TRANSFER,
        direction="in",
        peer=message.issuer,
        ref=ref,
        customer_id=link.customer_id,
        points=item.receiver_points,
        peer_points=item.sender_points,
        value_minor=item.value_minor,
        kept_minor=item.sender_kept_minor,
        status="accepted",
        reason=None,
        request_iat=message.issued_at,
        detail=None,
        now=ctx.now,
    )
    store.insert_clearing(
        session=session,
        peer=message.issuer,
        ref=ref,
        kind=TRANSFER,
        creditor=fed.node_id,
        value_minor=item.value_minor,
        request_iat=message.issued_at,
        now=ctx.now,
    )
    return None


def handle_transfer_request(session: Session, ctx: InboxContext, message: Message) -> Answer:
    """At the receiver: credit the member the converted points, once."""
    body = message.body
    assert isinstance(body, TransferRequest)
    reason = _credit_incoming_txn(
        session,
        ctx,
        message,
        ref=f"{message.issuer}:{message.message_id}",
        item=body,
        manifest_version=body.manifest_version,
    )
    return reject(message, reason) if reason else accept(message)


def handle_transfer_batch(session: Session, ctx: InboxContext, message: Message) -> Answer:
    """At the receiver: each item of a batch is decided on its own, in one transaction."""
    body = message.body
    assert isinstance(body, TransferBatch)
    results = []
    for item in body.transfers:
        reason = _credit_incoming_txn(
            session,
            ctx,
            message,
            ref=f"{message.issuer}:{message.message_id}:{item.item}",
            item=item,
            manifest_version=body.manifest_version,
        )
        if reason:
            results.append(ItemResult(item=item.item, outcome="rejected", reason=reason))
        else:
            results.append(ItemResult(item=item.item, outcome="accepted", reason=None))
    return accept(message, results=results)


def customer_operations(
    db: Database, *, customer_id: str, limit: int = 50
) -> list[store.OperationRow]:
    with db.read() as session:
        require_active_txn(session=session, customer_id=customer_id)
        return store.customer_operations(session=session, customer_id=customer_id, limit=limit)
