"""Staff access to a customer's personal data: read, rectify, look up; each one audited.

The ``_txn`` functions decrypt and re-seal and are what other parts (the
data-subject requests) call inside their own transactions; they write no
audit entry themselves. The ``*_unit`` functions are what the operator API
runs: the access and its audit entry (node.services.audit) in one write
transaction, so there is no read of personal data without its entry.

A customer whose data was shredded (node.services.erasure) answers 410
``customer_erased``; an unknown id 404.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlmodel import Session

from node.errors import Conflict, KonsortError, NotFound, ValidationFailed
from node.secrets import NodeSecrets
from node.services import audit, bonuses
from node.services import personal_data as pd
from node.services.erasure import ERASED
from node.services.idempotency import Answer, Unit, idempotent_unit
from node.store import bonuses as bonus_store
from node.store import customers as customer_store
from node.store import profiles as store

#: The personal fields, in the order answers list them.
FIELDS: tuple[str, ...] = tuple(pd.PersonalData.model_fields)

DEFAULT_PURPOSES = {
    "profile.view": "customer_service",
    "profile.change": "rectification",
    "customer.lookup": "customer_service",
}


class CustomerErased(KonsortError):
    """The customer's personal data was erased; only the opaque id remains."""

    code = "customer_erased"
    http_status = 410


def _unsealed_txn(
    *, session: Session, secrets: NodeSecrets, customer_id: str
) -> tuple[bytes, pd.PersonalData]:
    """(data key, personal data) of a customer whose data still exists."""
    status = customer_store.customer_status(session=session, customer_id=customer_id)
    if status is None:
        raise NotFound("no such customer", field="customer_id")
    if status[0] == ERASED:
        raise CustomerErased("this customer's personal data was erased", field="customer_id")
    found = customer_store.sealed_profile(session=session, customer_id=customer_id)
    if found is None:
        raise NotFound("no personal data held for this customer", field="customer_id")
    data_key = pd.unwrap_data_key(secrets, customer_id, found[0])
    return data_key, pd.unseal(data_key, customer_id, found[1])


def read_profile_txn(
    *, session: Session, secrets: NodeSecrets, customer_id: str
) -> pd.PersonalData:
    """The customer's decrypted personal data (not audited: the caller records why)."""
    return _unsealed_txn(session=session, secrets=secrets, customer_id=customer_id)[1]


def rectify_profile_txn(
    *,
    session: Session,
    secrets: NodeSecrets,
    customer_id: str,
    changes: pd.PersonalData,
    now: datetime,
) -> list[str]:
    """Set the fields ``changes`` sets (None clears one), re-seal; returns the changed names.

    A new email gets a new keyed digest, so lookup finds the new address and
    not the old; an email another customer holds is refused with 409.
    """
    if not changes.model_fields_set:
        raise ValidationFailed("name at least one field to change")
    data_key, current = _unsealed_txn(session=session, secrets=secrets, customer_id=customer_id)
    updates = {name: getattr(changes, name) for name in changes.model_fields_set}
    rectified = current.model_copy(update=updates)
    changed = [name for name in FIELDS if getattr(current, name) != getattr(rectified, name)]
    if not changed:
        return []
    digest = pd.email_digest(secrets, rectified.email) if rectified.email else None
    if digest is not None and "email" in changed:
        holder = customer_store.customer_id_by_email_digest(session=session, digest=digest)
        if holder is not None and holder != customer_id:
            raise Conflict("another customer is enrolled with this email", field="email")
    store.update_profile(
        session=session,
        customer_id=customer_id,
        sealed=pd.seal(data_key, customer_id, rectified),
        email_digest=digest,
        now=now,
    )
    if "birthday" in changed:
        if rectified.birthday is None:
            store.forget_birth_month(session=session, customer_id=customer_id)
        else:
            bonus_store.save_birth_month(
                session=session,
                customer_id=customer_id,
                month_digest=bonuses.birth_month_digest(secrets, rectified.birthday.month),
            )
    return changed


def profile_view_unit(
    *, secrets: NodeSecrets, customer_id: str, actor: str, purpose: str, now: datetime
) -> Callable[[Session], pd.PersonalData]:
    """Read the profile and record ``profile.view`` (run it with ``db.write``)."""

    def work(session: Session) -> pd.PersonalData:
        profile = read_profile_txn(session=session, secrets=secrets, customer_id=customer_id)
        audit.record_txn(
            session=session,
            actor=actor,
            action="profile.view",
            customer_id=customer_id,
            purpose=purpose,
            now=now,
            detail={"fields": [name for name in FIELDS if getattr(profile, name) is not None]},
        )
        return profile

    return work


def rectification_unit(
    *,
    secrets: NodeSecrets,
    customer_id: str,
    changes: pd.PersonalData,
    actor: str,
    purpose: str,
    idempotency_key: str,
    now: datetime,
) -> Unit:
    """Rectify once per Idempotency-Key and record ``profile.change`` with the field names.

    The stored answer and request digest hold no personal data: the answer
    names the changed fields, the digest is keyed (node.services.personal_data).
    """

    def work(session: Session) -> Answer:
        changed = rectify_profile_txn(
            session=session, secrets=secrets, customer_id=customer_id, changes=changes, now=now
        )
        audit.record_txn(
            session=session,
            actor=actor,
            action="profile.change",
            customer_id=customer_id,
            purpose=purpose,
            now=now,
            detail={"fields": changed},
        )
        return Answer(200, {"customer_id": customer_id, "changed": changed})

    request: dict[str, Any] = {
        "customer_id": customer_id,
        "fields": sorted(changes.model_fields_set),
        "changes": pd.keyed_digest(secrets, changes),
        "purpose": purpose,
    }
    return idempotent_unit(
        key=idempotency_key, operation="profile.rectify", request=request, now=now, work=work
    )


def lookup_unit(
    *, secrets: NodeSecrets, email: str, actor: str, purpose: str, now: datetime
) -> Callable[[Session], str]:
    """Find a customer by email and record ``customer.lookup`` when found (404 otherwise)."""

    def work(session: Session) -> str:
        found = customer_store.customer_id_by_email_digest(
            session=session, digest=pd.email_digest(secrets, email)
        )
        if found is None:
            raise NotFound("no customer with this email", field="email")
        audit.record_txn(
            session=session,
            actor=actor,
            action="customer.lookup",
            customer_id=found,
            purpose=purpose,
            now=now,
        )
        return found

    return work
