"""Enrolling members and finding them again, without storing plain personal data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from node.clock import isoformat
from node.db import Database
from node.errors import Conflict, NotFound
from node.ids import new_id
from node.secrets import NodeSecrets
from node.services import bonuses, consent, events, ledger
from node.services import personal_data as pd
from node.services.idempotency import Answer, Unit, idempotent_unit, run_idempotent
from node.services.program import program_at_txn
from node.settings import Settings
from node.store import bonuses as bonus_store
from node.store import customers as store

ACTIVE = "active"


@dataclass(frozen=True)
class EnrolledCustomer:
    id: str
    status: str
    enrolled_at: datetime


def enrol_customer_txn(
    *, session: Session, secrets: NodeSecrets, personal: pd.PersonalData, now: datetime
) -> EnrolledCustomer:
    """Create a member, their sealed profile and their points account."""
    digest = pd.email_digest(secrets, personal.email) if personal.email else None
    if digest and store.customer_id_by_email_digest(session=session, digest=digest):
        raise Conflict("a customer with this email is already enrolled", field="email")
    customer_id = new_id("cus")
    data_key = pd.new_data_key()
    store.insert_customer(session=session, customer_id=customer_id, status=ACTIVE, now=now)
    store.insert_key(
        session=session,
        customer_id=customer_id,
        wrapped_key=pd.wrap_data_key(secrets, customer_id, data_key),
        now=now,
    )
    store.insert_profile(
        session=session,
        customer_id=customer_id,
        sealed=pd.seal(data_key, customer_id, personal),
        email_digest=digest,
        now=now,
    )
    ledger.open_customer_account_txn(session=session, customer_id=customer_id, now=now)
    return EnrolledCustomer(customer_id, ACTIVE, now)


def enrol_customer(db: Database, **request: Any) -> Answer:
    """Enrol a member once per Idempotency-Key."""
    return run_idempotent(db, enrolment_unit(**request))


def enrolment_unit(
    *,
    secrets: NodeSecrets,
    personal: pd.PersonalData,
    idempotency_key: str,
    now: datetime,
    settings: Settings | None = None,
    referred_by: str | None = None,
    consents: dict[str, bool] | None = None,
    actor: str | None = None,
) -> Unit:
    """Enrol, then the program's part: referral, birthday index, enrolment bonus, event.

    The stored answer holds no personal data. Without ``settings`` (tests of
    the bare core) the program's part is skipped. ``consents`` are the
    member's consent answers, recorded with channel ``enrolment``.
    """

    def work(session: Session) -> Answer:
        enrolled = enrol_customer_txn(session=session, secrets=secrets, personal=personal, now=now)
        if consents:
            consent.record_enrolment_consents_txn(
                session=session,
                customer_id=enrolled.id,
                consents=consents,
                actor=actor or "operator",
                now=now,
            )
        if settings is not None:
            _enrol_in_program_txn(
                session=session,
                settings=settings,
                secrets=secrets,
                customer_id=enrolled.id,
                personal=personal,
                referred_by=referred_by,
                now=now,
            )
        body = {"id": enrolled.id, "status": enrolled.status, "enrolled_at": isoformat(now)}
        return Answer(201, body)

    request: dict[str, Any] = {"personal": pd.keyed_digest(secrets, personal)}
    if referred_by is not None:
        request["referred_by"] = referred_by
    if consents:
        request["consents"] = consents
    return idempotent_unit(
        key=idempotency_key,
        operation="enrol",
        # Only a keyed digest of the personal fields takes part: the stored
        # request digest must not let anyone test guesses about a member.
        request=request,
        now=now,
        work=work,
    )


def _enrol_in_program_txn(
    *,
    session: Session,
    settings: Settings,
    secrets: NodeSecrets,
    customer_id: str,
    personal: pd.PersonalData,
    referred_by: str | None,
    now: datetime,
) -> None:
    if referred_by is not None:
        bonuses.record_referral_txn(
            session=session, referred_id=customer_id, referrer_id=referred_by, now=now
        )
    if personal.birthday is not None:
        bonus_store.save_birth_month(
            session=session,
            customer_id=customer_id,
            month_digest=bonuses.birth_month_digest(secrets, personal.birthday.month),
        )
    program = program_at_txn(session=session, settings=settings, moment=now).program
    bonuses.award_txn(
        session=session,
        program=program,
        customer_id=customer_id,
        kind="enrolment",
        period="",
        points=program.bonuses.enrolment_points,
        now=now,
    )
    events.record_event_txn(
        session=session, type="customer.enrolled", payload={"customer_id": customer_id}, now=now
    )


def require_active_txn(*, session: Session, customer_id: str) -> EnrolledCustomer:
    found = store.customer_status(session=session, customer_id=customer_id)
    if found is None or found[0] != ACTIVE:
        raise NotFound("no such customer", field="customer_id")
    return EnrolledCustomer(customer_id, found[0], found[1])


def get_customer(db: Database, *, customer_id: str) -> EnrolledCustomer:
    with db.read() as session:
        return require_active_txn(session=session, customer_id=customer_id)


def find_by_email(db: Database, *, secrets: NodeSecrets, email: str) -> str:
    with db.read() as session:
        found = store.customer_id_by_email_digest(
            session=session, digest=pd.email_digest(secrets, email)
        )
    if found is None:
        raise NotFound("no customer with this email", field="email")
    return found


def read_profile(db: Database, *, secrets: NodeSecrets, customer_id: str) -> pd.PersonalData:
    with db.read() as session:
        found = store.sealed_profile(session=session, customer_id=customer_id)
    if found is None:
        raise NotFound("no personal data held for this customer", field="customer_id")
    wrapped, sealed = found
    return pd.unseal(pd.unwrap_data_key(secrets, customer_id, wrapped), customer_id, sealed)
