"""Linking a member's accounts at two nodes, with pairwise pseudonyms only.

The member asks node A for a link code for partner B (``create_link_code``):
A answers a single-use code (15 minutes) and A's pseudonym for the member
towards B. The member enters both at B (``request_link_unit``), which sends
``link.request`` with its own pseudonym for the member towards A. A checks the
code (unused, unexpired, issued for B) and that the pseudonym is its own for
that member, and answers. From then on each side stores only the other's
pseudonym; neither learns anything else about the member. Either side can
revoke (``revoke_link_unit``): the link stops at once locally and the partner
is told with ``link.revoke``.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from node.clock import isoformat
from node.db import Database
from node.errors import Conflict, NotFound, ValidationFailed
from node.services import consent, outbox
from node.services.customers import require_active_txn
from node.services.federation import Federation
from node.services.idempotency import Answer as ApiAnswer
from node.services.idempotency import Unit, idempotent_unit
from node.services.inbox import InboxContext
from node.store import consent as consent_store
from node.store import federation as store
from protocol import Answer, LinkRequest, LinkRevoke, Message, accept, reject

LINK_CODE_TTL = timedelta(minutes=15)
ACTIVE, PENDING, REVOKED, REFUSED = "active", "pending", "revoked", "refused"
#: Processing restricted (GDPR Art. 18) at either end: no transfers over it; the
#: member may still revoke it, and cannot link again over it.
RESTRICTED = "restricted"


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedLinkCode:
    link_code: str
    subject: str
    partner: str
    expires_at: datetime


def _partner_txn(session: Session, fed: Federation, partner: str) -> None:
    manifest = fed.require_manifest_txn(session=session)
    if partner == fed.node_id:
        raise ValidationFailed("a member links with another node, not this one", field="partner")
    fed.member(manifest, partner)


def create_link_code(
    db: Database, fed: Federation, *, customer_id: str, partner: str, now: datetime
) -> IssuedLinkCode:
    code = "L" + secrets.token_urlsafe(12)
    expires = now + LINK_CODE_TTL

    def unit(session: Session) -> None:
        require_active_txn(session=session, customer_id=customer_id)
        consent.require_consent_txn(
            session=session, customer_id=customer_id, purpose=consent.PARTNER_TRANSFERS
        )
        _partner_txn(session, fed, partner)
        store.insert_link_code(
            session=session,
            code_digest=_digest(code),
            customer_id=customer_id,
            partner=partner,
            now=now,
            expires_at=expires,
        )

    db.write(unit)
    return IssuedLinkCode(code, fed.pseudonym(customer_id, partner), partner, expires)


def link_json(link: store.LinkRow) -> dict[str, Any]:
    return {"partner": link.partner, "status": link.status, "since": isoformat(link.created_at)}


def request_link_unit(
    fed: Federation,
    *,
    customer_id: str,
    partner: str,
    link_code: str,
    subject: str,
    idempotency_key: str,
    now: datetime,
) -> Unit:
    """Ask ``partner`` to link the member, with the code and pseudonym it gave them."""

    def work(session: Session) -> ApiAnswer:
        require_active_txn(session=session, customer_id=customer_id)
        consent.require_consent_txn(
            session=session, customer_id=customer_id, purpose=consent.PARTNER_TRANSFERS
        )
        _partner_txn(session, fed, partner)
        existing = store.link_for_customer(
            session=session, customer_id=customer_id, partner=partner
        )
        if existing is not None and existing.status in (ACTIVE, PENDING, RESTRICTED):
            raise Conflict(
                f"already {existing.status} with {partner}", field="partner", code="already_linked"
            )
        ours = fed.pseudonym(customer_id, partner)
        try:
            body = LinkRequest(subject=subject, requester_subject=ours, link_code=link_code)
        except ValueError:
            raise ValidationFailed(
                "the link code or subject is not one a node issues", field="link_code"
            ) from None
        store.save_link(
            session=session,
            customer_id=customer_id,
            partner=partner,
            our_subject=ours,
            partner_subject=subject,
            status=PENDING,
            now=now,
        )
        outbox.enqueue_txn(session=session, fed=fed, body=body, audience=partner, now=now)
        return ApiAnswer(202, {"partner": partner, "status": PENDING, "since": isoformat(now)})

    return idempotent_unit(
        key=idempotency_key,
        operation="link-request",
        request={"customer_id": customer_id, "partner": partner, "link_code": _digest(link_code)},
        now=now,
        work=work,
    )


def revoke_link_unit(
    fed: Federation, *, customer_id: str, partner: str, idempotency_key: str, now: datetime
) -> Unit:
    def work(session: Session) -> ApiAnswer:
        require_active_txn(session=session, customer_id=customer_id)
        link = store.link_for_customer(session=session, customer_id=customer_id, partner=partner)
        if link is None or link.status not in (ACTIVE, RESTRICTED):
            raise NotFound(f"no active link with {partner}", field="partner")
        store.set_link_status(session=session, link_id=link.id, status=REVOKED, now=now)
        outbox.enqueue_txn(
            session=session,
            fed=fed,
            body=LinkRevoke(subject=link.partner_subject),
            audience=partner,
            now=now,
        )
        return ApiAnswer(
            200, {"partner": partner, "status": REVOKED, "since": isoformat(link.created_at)}
        )

    return idempotent_unit(
        key=idempotency_key,
        operation="link-revoke",
        request={"customer_id": customer_id, "partner": partner},
        now=now,
        work=work,
    )


def customer_links(db: Database, *, customer_id: str) -> list[store.LinkRow]:
    with db.read() as session:
        require_active_txn(session=session, customer_id=customer_id)
        return store.customer_links(session=session, customer_id=customer_id)


# -- protocol handlers ------------------------------------------------------------


def handle_link_request(session: Session, ctx: InboxContext, message: Message) -> Answer:
    """At the code's issuer: link if the code is good and the subject is ours."""
    body = message.body
    assert isinstance(body, LinkRequest)
    holder = consent_store.link_code_holder(
        session=session, code_digest=_digest(body.link_code), partner=message.issuer, now=ctx.now
    )
    if (
        holder is not None
        and ctx.federation.pseudonym(holder, message.issuer) == body.subject
        and not consent.has_consent_txn(
            session=session, customer_id=holder, purpose=consent.PARTNER_TRANSFERS
        )
    ):
        return reject(message, "consent_missing")  # the code stays unused
    customer_id = store.use_link_code(
        session=session, code_digest=_digest(body.link_code), partner=message.issuer, now=ctx.now
    )
    if customer_id is None or ctx.federation.pseudonym(customer_id, message.issuer) != body.subject:
        return reject(message, "invalid_link_code")
    store.save_link(
        session=session,
        customer_id=customer_id,
        partner=message.issuer,
        our_subject=body.subject,
        partner_subject=body.requester_subject,
        status=ACTIVE,
        now=ctx.now,
    )
    return accept(message)


def handle_link_revoke(session: Session, ctx: InboxContext, message: Message) -> Answer:
    body = message.body
    assert isinstance(body, LinkRevoke)
    link = store.link_by_subject(session=session, partner=message.issuer, our_subject=body.subject)
    if link is None:
        return reject(message, "unknown_subject")
    if link.status != REVOKED:
        store.set_link_status(session=session, link_id=link.id, status=REVOKED, now=ctx.now)
    return accept(message)


def on_link_answer(
    session: Session, fed: Federation, received: outbox.ReceivedAnswer, now: datetime
) -> None:
    """At the requester: the link is active, or refused."""
    request, answer = received.request, received.answer
    if not isinstance(request, LinkRequest):
        return  # a link.revoke's answer: nothing more to do
    found = _link_by_our_subject(session, request.requester_subject)
    if found is None or found.status != PENDING:
        return
    status = ACTIVE if answer.outcome == "accepted" else REFUSED
    store.set_link_status(session=session, link_id=found.id, status=status, now=now)


def _link_by_our_subject(session: Session, our_subject: str) -> store.LinkRow | None:
    return store.link_by_our_subject(session=session, our_subject=our_subject)
