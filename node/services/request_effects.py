"""What approving a data-subject request does, one effect per request type.

:data:`REQUEST_EFFECTS` maps a request type to its effect. The workflow
(node.services.subject_requests) calls it inside the approval's transaction
as ``effect(session=, node=, request=, now=)`` and records the returned
:class:`EffectOutcome` on the request (no personal data in it) before the
request moves to ``done``. Other parts of the privacy engine replace or
extend entries here at merge time (the lines marked ``# lead:``).

The requester's own words and new values travel sealed with the member's
data key (:func:`seal_payload`), never in plain text; the workflow deletes
the sealed payload once the request is closed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlmodel import Session

from node.errors import Conflict, NotFound
from node.secrets import NodeSecrets
from node.services import audit, consent, partner_notices, profiles
from node.services import personal_data as pd
from node.services.federation import Federation
from node.settings import Settings
from node.store import subject_requests as store

NONCE_BYTES = 12

#: The consents an objection to direct marketing withdraws (Art. 21(3)).
OBJECTION_WITHDRAWS = (consent.MARKETING, consent.PERSONALISED_OFFERS, consent.PROFILING)


class RequestDeps(Protocol):
    """What effects need from the node (NodeContext fits)."""

    @property
    def secrets(self) -> NodeSecrets: ...

    @property
    def settings(self) -> Settings: ...

    @property
    def federation(self) -> Federation: ...


@dataclass(frozen=True)
class RequestRecord:
    """A request as the effects see it (one row of ``subject_request``)."""

    id: int
    public_id: str
    customer_id: str
    type: str
    state: str
    sealed_payload: bytes | None
    #: Who approved it (recorded in the audit log by effects that touch personal data).
    decided_by: str | None = None

    @property
    def actor(self) -> str:
        return self.decided_by or "system"


@dataclass(frozen=True)
class EffectOutcome:
    """What the effect did, for the request's record and the member's answer."""

    summary: str
    detail: dict[str, Any] = field(default_factory=dict)


Effect = Callable[..., EffectOutcome]


def _aad(customer_id: str) -> bytes:
    return f"subject-request:{customer_id}".encode()


def data_key_txn(*, session: Session, secrets: NodeSecrets, customer_id: str) -> bytes:
    wrapped = store.wrapped_key(session=session, customer_id=customer_id)
    if wrapped is None:
        raise NotFound("no personal data held for this customer", field="customer_id")
    return pd.unwrap_data_key(secrets, customer_id, wrapped)


def seal_payload(data_key: bytes, customer_id: str, payload: dict[str, Any]) -> bytes:
    plaintext = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(data_key).encrypt(nonce, plaintext, _aad(customer_id))


def unseal_payload(data_key: bytes, customer_id: str, sealed: bytes) -> dict[str, Any]:
    plaintext = AESGCM(data_key).decrypt(
        sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], _aad(customer_id)
    )
    found: dict[str, Any] = json.loads(plaintext)
    return found


def tell_partners_txn(
    *,
    session: Session,
    node: RequestDeps,
    request: RequestRecord,
    kind: partner_notices.NoticeKind,
    now: datetime,
) -> list[str]:
    """Queue the GDPR Art. 19 notice of this request to every linked partner."""
    return partner_notices.notify_partners_txn(
        session=session,
        fed=node.federation,
        customer_id=request.customer_id,
        request_ref=request.public_id,
        kind=kind,
        now=now,
    )


def access_effect(
    *, session: Session, node: RequestDeps, request: RequestRecord, now: datetime
) -> EffectOutcome:
    """Access and portability: the export becomes downloadable.

    The zip is built when downloaded and never stored, so no second copy of
    the personal data sits in the database.
    """
    del session, node, now
    return EffectOutcome(
        "the export can be downloaded", {"export": "available", "request": request.public_id}
    )


def rectification_effect(
    *, session: Session, node: RequestDeps, request: RequestRecord, now: datetime
) -> EffectOutcome:
    """Apply the sealed new values through the profile service, audited as a change."""
    if request.sealed_payload is None:
        raise Conflict("this request carries no new values", code="nothing_to_rectify")
    data_key = data_key_txn(session=session, secrets=node.secrets, customer_id=request.customer_id)
    changes = unseal_payload(data_key, request.customer_id, request.sealed_payload).get(
        "changes", {}
    )
    changed = profiles.rectify_profile_txn(
        session=session,
        secrets=node.secrets,
        customer_id=request.customer_id,
        changes=pd.PersonalData.model_validate(changes),
        now=now,
    )
    audit.record_txn(
        session=session,
        actor=request.actor,
        action="profile.change",
        customer_id=request.customer_id,
        purpose="rectification",
        now=now,
        detail={"fields": changed, "request": request.public_id},
    )
    told = tell_partners_txn(
        session=session, node=node, request=request, kind="rectification", now=now
    )
    return EffectOutcome(
        "the profile was corrected", {"fields_changed": changed, "partners_told": told}
    )


def restriction_effect(
    *, session: Session, node: RequestDeps, request: RequestRecord, now: datetime
) -> EffectOutcome:
    """Restrict processing (Art. 18): the consent guard refuses every consent purpose,
    and linked partners stop transfers over the link."""
    consent.set_restriction_txn(
        session=session,
        customer_id=request.customer_id,
        restricted=True,
        reason=request.public_id,
        actor=request.actor,
        now=now,
    )
    told = tell_partners_txn(
        session=session, node=node, request=request, kind="restriction", now=now
    )
    return EffectOutcome("processing is restricted", {"restricted": True, "partners_told": told})


def restriction_lift_effect(
    *, session: Session, node: RequestDeps, request: RequestRecord, now: datetime
) -> EffectOutcome:
    """Lift a restriction of processing, here and at linked partners."""
    consent.set_restriction_txn(
        session=session,
        customer_id=request.customer_id,
        restricted=False,
        reason=request.public_id,
        actor=request.actor,
        now=now,
    )
    tell_partners_txn(session=session, node=node, request=request, kind="restriction_lift", now=now)
    return EffectOutcome("the restriction of processing is lifted", {"restricted": False})


def objection_effect(
    *, session: Session, node: RequestDeps, request: RequestRecord, now: datetime
) -> EffectOutcome:
    """Objection to direct marketing (Art. 21(2)-(3)): marketing stops, and so do the
    personalised offers and the profiling that serve it."""
    del node
    for purpose in OBJECTION_WITHDRAWS:
        consent.record_consent_txn(
            session=session,
            customer_id=request.customer_id,
            purpose=purpose,
            granted=False,
            channel="operator_api",
            actor=request.actor,
            now=now,
        )
    return EffectOutcome(
        "no more marketing", {purpose: "withdrawn" for purpose in OBJECTION_WITHDRAWS}
    )


def _erasure_effect(
    *, session: Session, node: RequestDeps, request: RequestRecord, now: datetime
) -> EffectOutcome:
    from node.services.erasure_requests import erasure_effect

    return erasure_effect(session=session, node=node, request=request, now=now)


REQUEST_EFFECTS: dict[str, Effect] = {
    "access": access_effect,
    "portability": access_effect,
    "rectification": rectification_effect,
    "erasure": _erasure_effect,
    "restriction": restriction_effect,
    "restriction_lift": restriction_lift_effect,
    "objection": objection_effect,
}
