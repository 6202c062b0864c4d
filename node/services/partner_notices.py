"""Telling partners about a customer's erasure, restriction and rectification
(GDPR Art. 17(2) and 19), and keeping their signed receipts.

Sending side. The data-subject request workflow calls
:func:`notify_partners_txn` in the transaction that carries out the request:
one notice (``erasure.notice``, ``restriction.notice`` or
``rectification.notice``) per partner the customer is linked with goes into
the outbox, with a ``partner_notice`` row per partner. The outbox delivers
until it has an answer, however long a partner is down; a notice whose first
delivery comes after its ``exp`` is answered ``expired`` without effect, so
it is signed again (same body, new id) and goes on being delivered. The
answer, a signed receipt, is stored with its token: a privacy officer can
prove what each partner confirmed (:func:`notices_for_request_txn`,
:func:`notice_receipt`).

Erasure also revokes the customer's links here, in the same transaction: each
link row becomes ``erased`` with ``revoked_at`` and its two pseudonyms are
overwritten with a tombstone at once. The receipt is matched by the notice's
message id, not by pseudonym, so nothing needs them afterwards; until the
partner answers, the partner's pseudonym lives only inside the signed notice
in the outbox. The row (opaque customer id, partner, dates) tells no one who
the member was.

Restriction marks the customer's active links ``restricted`` (lifting makes
them ``active`` again); transfers over a restricted link are refused at both
ends (node.services.transfers).

Receiving side (inbox handlers): an erasure notice deletes the link row to
that pseudonym (so the member, who stays a customer here, can link again
later) and any unused link codes towards the sender, and answers what it
erased and what it keeps under which exemption; a restriction notice
restricts or lifts the link; a rectification notice is answered with
``held = []``: partners hold no personal data of each other's customers.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlmodel import Session

from node.db import Database
from node.errors import Conflict, NotFound, ValidationFailed
from node.ids import new_id
from node.services import outbox
from node.services.federation import Federation, unix
from node.services.inbox import InboxContext
from node.store import federation as links_store
from node.store import partner_notices as store
from protocol import (
    Answer,
    ErasureNotice,
    ErasureReceipt,
    KeptRecord,
    Message,
    RectificationNotice,
    RestrictionNotice,
    accept,
    canonical_json,
)
from protocol.messages import ErasedCategory, StoppedProcessing

NoticeKind = Literal["erasure", "restriction", "restriction_lift", "rectification"]
NOTICE_KINDS: tuple[str, ...] = ("erasure", "restriction", "restriction_lift", "rectification")
QUEUED, RECEIPT_IN, REJECTED = "queued", "receipt_in", "rejected"
ACTIVE, PENDING, RESTRICTED, ERASED = "active", "pending", "restricted", "erased"

#: Which links a notice of each kind goes over.
NOTIFIED_LINKS: dict[str, tuple[str, ...]] = {
    "erasure": (ACTIVE, PENDING, RESTRICTED),
    "restriction": (ACTIVE,),
    "restriction_lift": (RESTRICTED,),
    "rectification": (ACTIVE, RESTRICTED),
}
#: What stops over a restricted link (see transfers, partner_rewards, donations).
STOPPED: list[StoppedProcessing] = ["named_donations", "redemptions", "transfers"]
#: Bookkeeping rows are kept five full years after the year they belong to
#: (the bookkeeping acts of Denmark and Norway).
BOOKKEEPING_YEARS = 5
REQUEST_REF = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


@dataclass(frozen=True)
class NoticeStatus:
    """Where one notice to one partner stands."""

    id: str
    request_ref: str
    partner: str
    kind: str
    #: queued (not answered yet: see attempts and last_error), receipt_in or rejected.
    state: str
    reason: str | None
    #: The partner's signed answer body: erased/kept, restricted/stopped or held.
    receipt: dict[str, Any] | None
    #: How many times the notice was signed (re-signed after expiring undelivered).
    sends: int
    attempts: int
    last_error: str | None
    sent_at: datetime
    answered_at: datetime | None


def _status(row: store.NoticeRow) -> NoticeStatus:
    return NoticeStatus(
        id=row.public_id,
        request_ref=row.request_ref,
        partner=row.partner,
        kind=row.kind,
        state=row.state,
        reason=row.reason,
        receipt=None if row.receipt is None else json.loads(row.receipt),
        sends=row.sends,
        attempts=row.attempts,
        last_error=row.last_error,
        sent_at=row.sent_at,
        answered_at=row.answered_at,
    )


def _notice_body(
    kind: str, subject: str
) -> ErasureNotice | RestrictionNotice | RectificationNotice:
    if kind == "erasure":
        return ErasureNotice(subject=subject)
    if kind == "rectification":
        return RectificationNotice(subject=subject)
    return RestrictionNotice(subject=subject, restricted=kind == "restriction")


def notify_partners_txn(
    *,
    session: Session,
    fed: Federation,
    customer_id: str,
    request_ref: str,
    kind: NoticeKind,
    now: datetime,
) -> list[str]:
    """Queue one notice per partner the customer is linked with; the partners told.

    Idempotent per ``(request_ref, kind)``: a second call sends nothing new and
    returns the same partners. For ``erasure`` the customer's links here are
    revoked and their pseudonyms cleared; for ``restriction`` (``restriction_lift``)
    the active (restricted) links become restricted (active).
    """
    if kind not in NOTICE_KINDS:
        raise ValidationFailed(f"kind must be one of {', '.join(NOTICE_KINDS)}", field="kind")
    if not REQUEST_REF.match(request_ref):
        raise ValidationFailed(
            "request_ref must be 1-64 letters, digits and . _ : -", field="request_ref"
        )
    sent = store.notices_for_request(session=session, request_ref=request_ref, kind=kind)
    if sent:
        return sorted({notice.partner for notice in sent})
    links = links_store.customer_links(session=session, customer_id=customer_id)
    told = [link for link in links if link.status in NOTIFIED_LINKS[kind]]
    for link in told:
        queued = outbox.enqueue_txn(
            session=session,
            fed=fed,
            body=_notice_body(kind, link.partner_subject),
            audience=link.partner,
            now=now,
        )
        store.insert_notice(
            session=session,
            public_id=new_id("ntc"),
            request_ref=request_ref,
            kind=kind,
            partner=link.partner,
            customer_id=customer_id,
            message_id=queued.message_id,
            now=now,
        )
    if kind == "erasure":
        for link in links:
            if link.status != ERASED:
                store.erase_link(session=session, link_id=link.id, now=now)
    elif kind in ("restriction", "restriction_lift"):
        status = RESTRICTED if kind == "restriction" else ACTIVE
        for link in told:
            links_store.set_link_status(session=session, link_id=link.id, status=status, now=now)
    return sorted(link.partner for link in told)


def has_live_links_txn(*, session: Session, customer_id: str) -> bool:
    """Whether an erasure of this customer has partners to tell."""
    links = links_store.customer_links(session=session, customer_id=customer_id)
    return any(link.status in NOTIFIED_LINKS["erasure"] for link in links)


def notices_for_request_txn(*, session: Session, request_ref: str) -> list[NoticeStatus]:
    """Every notice of a request, in the order they were queued."""
    rows = store.notices_for_request(session=session, request_ref=request_ref)
    return [_status(row) for row in rows]


def notices_for_request(db: Database, *, request_ref: str) -> list[NoticeStatus]:
    with db.read() as session:
        return notices_for_request_txn(session=session, request_ref=request_ref)


def notice_receipt(db: Database, *, notice_id: str) -> str:
    """The partner's signed answer to a notice (a compact JWS anyone with the
    manifest can verify)."""
    with db.read() as session:
        row = store.notice_by_public_id(session=session, public_id=notice_id)
    if row is None:
        raise NotFound("no such notice", field="id")
    if row.receipt_token is None:
        raise Conflict(
            f"the notice to {row.partner} is {row.state}; there is no receipt yet",
            field="id",
            code="no_receipt",
        )
    return row.receipt_token


def deliver_notice_now(db: Database, *, notice_id: str, now: datetime) -> NoticeStatus:
    """Ask the outbox to try an unanswered notice at once instead of after its back-off
    (the privacy officer's "retry" for a partner whose receipt is missing)."""
    with db.transaction() as session:
        row = store.notice_by_public_id(session=session, public_id=notice_id)
        if row is None:
            raise NotFound("no such notice", field="id")
        if row.state != QUEUED:
            raise Conflict(
                f"the notice to {row.partner} is {row.state}; there is nothing to deliver",
                field="id",
                code="notice_answered",
            )
        links_store.lease(session=session, message_id=row.message_id, until=now)
        return _status(row)


def on_notice_answer(
    session: Session, fed: Federation, received: outbox.ReceivedAnswer, now: datetime
) -> None:
    """At the sender: keep the signed receipt, or sign an expired notice again."""
    notice = store.notice_by_message_id(session=session, message_id=received.message_id)
    if notice is None:
        return
    answer = received.answer
    if answer.outcome == "rejected" and answer.reason == "expired":
        # Its first delivery came after its exp (the partner was down that long):
        # the partner did nothing, so the same notice goes again under a new id.
        again = outbox.enqueue_txn(
            session=session, fed=fed, body=received.request, audience=notice.partner, now=now
        )
        store.resend(session=session, message_id=notice.message_id, new_message_id=again.message_id)
        return
    store.record_answer(
        session=session,
        message_id=notice.message_id,
        state=RECEIPT_IN if answer.outcome == "accepted" else REJECTED,
        reason=answer.reason,
        receipt=canonical_json(answer.model_dump(mode="json")).decode(),
        receipt_token=received.token,
        now=now,
    )


# -- receiving side ------------------------------------------------------------------


def _bookkeeping_until(last: datetime) -> int:
    """The end of the fifth full year after the year of ``last``."""
    return unix(datetime(last.year + BOOKKEEPING_YEARS + 1, 1, 1, tzinfo=UTC))


def handle_erasure_notice(session: Session, ctx: InboxContext, message: Message) -> Answer:
    """Drop the link to the erased customer's pseudonym; say what went and what stays."""
    body = message.body
    assert isinstance(body, ErasureNotice)
    issuer = message.issuer
    link = links_store.link_by_subject(session=session, partner=issuer, our_subject=body.subject)
    if link is None:
        return accept(message, erased=[], kept=[])  # unknown, or erased already
    erased: set[ErasedCategory] = {"pseudonym"}
    if link.status in (ACTIVE, PENDING, RESTRICTED):
        erased.add("link")
    store.delete_link(session=session, link_id=link.id)
    if store.delete_unused_link_codes(
        session=session, customer_id=link.customer_id, partner=issuer
    ):
        erased.add("pending_link_codes")
    kept: list[KeptRecord] = []
    last = store.last_operation_with(session=session, customer_id=link.customer_id, peer=issuer)
    if last is not None:
        until = _bookkeeping_until(last)
        kept += [
            KeptRecord(category="ledger", exemption="legal_obligation", until=until),
            KeptRecord(category="settlement", exemption="legal_obligation", until=until),
        ]
    # Requests this node signed to the sender (the link request, transfers) name
    # the sender's pseudonym; they are the evidence of every cross-node event.
    kept.append(KeptRecord(category="signed_messages", exemption="legal_claims", until=None))
    answer = ErasureReceipt(
        in_reply_to=message.message_id,
        outcome="accepted",
        reason=None,
        erased=sorted(erased),
        kept=kept,
    )
    return answer


def handle_restriction_notice(session: Session, ctx: InboxContext, message: Message) -> Answer:
    """Restrict the link to that pseudonym, or lift the restriction."""
    body = message.body
    assert isinstance(body, RestrictionNotice)
    link = links_store.link_by_subject(
        session=session, partner=message.issuer, our_subject=body.subject
    )
    if link is None or link.status not in (ACTIVE, RESTRICTED):
        return accept(message, restricted=body.restricted, stopped=[])
    status = RESTRICTED if body.restricted else ACTIVE
    if link.status != status:
        links_store.set_link_status(session=session, link_id=link.id, status=status, now=ctx.now)
    return accept(message, restricted=body.restricted, stopped=STOPPED if body.restricted else [])


def handle_rectification_notice(session: Session, ctx: InboxContext, message: Message) -> Answer:
    """Nothing to rectify: a partner holds no personal data of the sender's customer."""
    assert isinstance(message.body, RectificationNotice)
    return accept(message, held=[])
