"""The one consent guard, consent records and restriction of processing.

Every code path that needs a member's consent asks this module and nothing
else: :func:`require_consent_txn` (raise, for API paths) or
:func:`has_consent_txn` (ask, for inbox handlers that answer
``consent_missing``). The answer is the newest consent record of (customer,
purpose), read on an index inside the caller's transaction, so a withdrawal
takes effect for the very next request.

Restriction of processing (GDPR Art. 18, :func:`set_restriction_txn`) is
decided by the same guard: while a member's processing is restricted every
consent-based purpose is refused with ``processing_restricted``, whatever the
records say; ``membership`` (earning and redeeming at the till, the
contract) goes on.

Records are append-only (a trigger refuses UPDATE). :func:`record_consent_txn`
writes a record only when it changes something: the state, or for a grant the
wording version. Repeating the current answer writes nothing and returns the
state as it is. Each written withdrawal, and each restriction that starts,
calls the :data:`ON_WITHDRAWAL` hooks of the purposes concerned in the same
transaction, so features that keep pending work for a purpose (personalised
offers) drop it at once.

Retention (:func:`retention_due_txn`, :func:`retention_apply_txn`): once the
newest record of (customer, purpose) is a withdrawal older than the cutoff,
the whole chain of that pair's records is due for deletion (nothing is being
processed on it any more, and the proof has been kept for the retention
period). A grant is never due, so neither is anything of a purpose in use.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from node.clock import isoformat
from node.db import Database
from node.errors import (
    Conflict,
    ConsentRequired,
    KonsortError,
    NotFound,
    ProcessingRestricted,
    ValidationFailed,
)
from node.ids import new_id
from node.services.consent_purposes import (
    ANALYTICS,
    CONTRACT,
    MARKETING,
    MEMBERSHIP,
    PARTNER_TRANSFERS,
    PERSONALISED_OFFERS,
    PROFILING,
    PURPOSES,
    purposes_txn,
    require_wording_txn,
)
from node.services.idempotency import Answer, Unit, idempotent_unit
from node.store import consent as store
from node.store import customers as customer_store

__all__ = [
    "ANALYTICS",
    "CHANNELS",
    "MARKETING",
    "MEMBERSHIP",
    "ON_WITHDRAWAL",
    "PARTNER_TRANSFERS",
    "PERSONALISED_OFFERS",
    "PROFILING",
    "PURPOSES",
    "ConsentState",
    "consent_export_rows_txn",
    "has_consent_txn",
    "is_restricted_txn",
    "record_consent_txn",
    "require_consent_txn",
    "retention_apply_txn",
    "retention_due_txn",
    "set_restriction_txn",
]

CHANNELS = ("customer_api", "operator_api", "in_store", "web", "enrolment", "cli")
RESTRICTION_REASON = re.compile(r"^[a-z0-9][a-z0-9_.:-]{0,59}$")

WithdrawalHook = Callable[..., None]
#: Called as ``hook(session=, customer_id=, now=)`` inside the withdrawal's
#: transaction. Register with ``ON_WITHDRAWAL.setdefault(purpose, []).append``.
ON_WITHDRAWAL: dict[str, list[WithdrawalHook]] = {
    purpose: [] for purpose in PURPOSES if purpose != MEMBERSHIP
}


@dataclass(frozen=True)
class ConsentState:
    purpose: str
    #: granted, withdrawn, not_given (never answered) or contract (membership).
    state: str
    wording_version: int
    since: datetime | None
    channel: str | None
    #: Whether this call wrote a record (False when it repeated the current answer).
    recorded: bool = False

    @property
    def granted(self) -> bool:
        return self.state in ("granted", "contract")


def _state(record: store.RecordRow, *, recorded: bool = False) -> ConsentState:
    return ConsentState(
        record.purpose,
        "granted" if record.granted else "withdrawn",
        record.wording_version,
        record.recorded_at,
        record.channel,
        recorded,
    )


def _require_customer(session: Session, customer_id: str) -> None:
    found = customer_store.customer_status(session=session, customer_id=customer_id)
    if found is None or found[0] != "active":
        raise NotFound("no such customer", field="customer_id")


# -- the guard ----------------------------------------------------------------------


def _refusal(session: Session, customer_id: str, purpose: str) -> KonsortError | None:
    if purpose == MEMBERSHIP:
        found = customer_store.customer_status(session=session, customer_id=customer_id)
        if found is not None and found[0] == "active":
            return None
        return ConsentRequired("the customer is not a member", field=purpose)
    if store.is_restricted(session=session, customer_id=customer_id):
        return ProcessingRestricted(
            f"processing of this member's data is restricted (GDPR Art. 18): {purpose} "
            "is paused until the restriction is lifted",
            field=purpose,
        )
    if store.current_grant(session=session, customer_id=customer_id, purpose=purpose):
        return None
    return ConsentRequired(
        f"this needs the member's consent to {purpose}; the member grants it with "
        f"PUT /api/v1/me/consents/{purpose} (or the operator, recording where it was "
        f"given, with PUT /api/v1/customers/{{id}}/consents/{purpose})",
        field=purpose,
    )


def allowed_purposes_txn(
    *, session: Session, customer_id: str, purposes: Sequence[str]
) -> frozenset[str]:
    """Which of the consent ``purposes`` may be processed now: :func:`has_consent_txn`
    for several at once, with one restriction check (a hot path asks this per purchase)."""
    if store.is_restricted(session=session, customer_id=customer_id):
        return frozenset()
    return frozenset(
        purpose
        for purpose in purposes
        if purpose != MEMBERSHIP
        and store.current_grant(session=session, customer_id=customer_id, purpose=purpose)
    )


def has_consent_txn(*, session: Session, customer_id: str, purpose: str) -> bool:
    """Whether ``purpose`` may be processed for the customer now (False when restricted)."""
    return _refusal(session, customer_id, purpose) is None


def require_consent_txn(*, session: Session, customer_id: str, purpose: str) -> None:
    """Raise :class:`ConsentRequired` or :class:`ProcessingRestricted` (403) unless allowed."""
    refusal = _refusal(session, customer_id, purpose)
    if refusal is not None:
        raise refusal


# -- records ------------------------------------------------------------------------


def record_consent_txn(
    *,
    session: Session,
    customer_id: str,
    purpose: str,
    granted: bool,
    channel: str,
    actor: str,
    now: datetime,
    wording_version: int | None = None,
) -> ConsentState:
    """Grant or withdraw ``purpose``, against ``wording_version`` (default: the one in force)."""
    if channel not in CHANNELS:
        raise ValidationFailed(f"channel must be one of {', '.join(CHANNELS)}", field="channel")
    _require_customer(session, customer_id)
    wording = require_wording_txn(session=session, purpose=purpose, version=wording_version)
    if wording.legal_basis == CONTRACT:
        raise Conflict(
            f"{purpose} is not a consent: it is the membership agreement (GDPR Art. 6(1)(b)) "
            "and ends when the member leaves the programme (erasure), not by withdrawing",
            field="purpose",
            code="not_a_consent",
        )
    latest = store.latest_record(session=session, customer_id=customer_id, purpose=purpose)
    if (
        latest is not None
        and latest.granted == granted
        and (not granted or latest.wording_version == wording.version)
    ):
        return _state(latest)
    record = store.RecordRow(
        public_id=new_id("cns"),
        customer_id=customer_id,
        purpose=purpose,
        granted=granted,
        wording_version=wording.version,
        channel=channel,
        actor=actor[:60],
        recorded_at=now,
    )
    store.insert_record(session=session, row=record)
    if not granted:
        for hook in ON_WITHDRAWAL.get(purpose, ()):
            hook(session=session, customer_id=customer_id, now=now)
    return _state(record, recorded=True)


def record_enrolment_consents_txn(
    *, session: Session, customer_id: str, consents: dict[str, bool], actor: str, now: datetime
) -> None:
    """The answers given at enrolment (channel ``enrolment``), in the enrolment's transaction."""
    for purpose, granted in sorted(consents.items()):
        field = f"consents.{purpose}"
        wording = require_wording_txn(session=session, purpose=purpose, field=field)
        if wording.legal_basis == CONTRACT and granted:
            continue  # enrolling is entering the membership agreement
        try:
            record_consent_txn(
                session=session,
                customer_id=customer_id,
                purpose=purpose,
                granted=granted,
                channel="enrolment",
                actor=actor,
                now=now,
            )
        except Conflict as exc:
            exc.field = field
            raise


def consent_unit(
    *,
    customer_id: str,
    purpose: str,
    granted: bool,
    channel: str,
    actor: str,
    idempotency_key: str,
    now: datetime,
    wording_version: int | None = None,
) -> Unit:
    """An API write: grant or withdraw, once per Idempotency-Key; answers the purpose's state."""

    def work(session: Session) -> Answer:
        record_consent_txn(
            session=session,
            customer_id=customer_id,
            purpose=purpose,
            granted=granted,
            channel=channel,
            actor=actor,
            now=now,
            wording_version=wording_version,
        )
        overview = consent_overview_txn(session=session, customer_id=customer_id)
        found = next(item for item in overview["purposes"] if item["purpose"] == purpose)
        return Answer(200, {**found, "restricted": overview["restricted"]})

    return idempotent_unit(
        key=idempotency_key,
        operation="consent",
        request={
            "customer_id": customer_id,
            "purpose": purpose,
            "granted": granted,
            "channel": channel,
            "wording_version": wording_version,
        },
        now=now,
        work=work,
    )


def consent_overview_txn(*, session: Session, customer_id: str) -> dict[str, Any]:
    """Each purpose with the member's state, the wording they saw (or would see) and since when."""
    _require_customer(session, customer_id)
    latest = store.latest_records(session=session, customer_id=customer_id)
    items = []
    for purpose, found in purposes_txn(session=session).items():
        record = latest.get(purpose)
        shown = found.current
        if record is not None:
            shown = next(v for v in found.versions if v.version == record.wording_version)
        if found.legal_basis == CONTRACT:
            state = "contract"
        else:
            state = "not_given" if record is None else _state(record).state
        items.append(
            {
                "purpose": purpose,
                "legal_basis": found.legal_basis,
                "state": state,
                "granted": state in ("granted", "contract"),
                "title": shown.title,
                "text": shown.text,
                "wording_version": shown.version,
                "current_version": found.current.version,
                "since": isoformat(record.recorded_at) if record else None,
                "channel": record.channel if record else None,
            }
        )
    restricted = store.is_restricted(session=session, customer_id=customer_id)
    return {"customer_id": customer_id, "restricted": restricted, "purposes": items}


def consent_overview(db: Database, *, customer_id: str) -> dict[str, Any]:
    with db.read() as session:
        return consent_overview_txn(session=session, customer_id=customer_id)


def _record_json(record: store.RecordRow) -> dict[str, Any]:
    return {
        "id": record.public_id,
        "purpose": record.purpose,
        "granted": record.granted,
        "wording_version": record.wording_version,
        "channel": record.channel,
        "actor": record.actor,
        "recorded_at": isoformat(record.recorded_at),
    }


def consent_history(db: Database, *, customer_id: str) -> list[dict[str, Any]]:
    """Every record of the customer, oldest first."""
    with db.read() as session:
        _require_customer(session, customer_id)
        return [
            _record_json(r)
            for r in store.customer_records(session=session, customer_id=customer_id)
        ]


def consent_export_rows_txn(*, session: Session, customer_id: str) -> list[dict[str, Any]]:
    """Every record of the customer with the wording they saw (for the access export)."""
    texts = {(w.purpose, w.version): w for w in store.all_wording(session=session)}
    rows = []
    for record in store.customer_records(session=session, customer_id=customer_id):
        wording = texts[(record.purpose, record.wording_version)]
        rows.append({**_record_json(record), "title": wording.title, "wording": wording.text})
    return rows


# -- restriction of processing (GDPR Art. 18) -------------------------------------------


def is_restricted_txn(*, session: Session, customer_id: str) -> bool:
    return store.is_restricted(session=session, customer_id=customer_id)


def set_restriction_txn(
    *, session: Session, customer_id: str, restricted: bool, reason: str, actor: str, now: datetime
) -> bool:
    """Restrict or lift; ``reason`` is a code or request id, never free text.

    Every call is kept in the history; returns whether the state changed.
    Starting a restriction runs every purpose's withdrawal hooks.
    """
    if not RESTRICTION_REASON.match(reason):
        raise ValidationFailed(
            "reason is a code such as accuracy_contested or a request id "
            "(lowercase letters, digits, _ . : -; at most 60), never free text",
            field="reason",
        )
    before = store.is_restricted(session=session, customer_id=customer_id)
    store.insert_restriction(
        session=session,
        customer_id=customer_id,
        restricted=restricted,
        reason=reason,
        actor=actor[:60],
        now=now,
    )
    if restricted and not before:
        for hooks in ON_WITHDRAWAL.values():
            for hook in hooks:
                hook(session=session, customer_id=customer_id, now=now)
    return before != restricted


# -- retention ----------------------------------------------------------------------


def retention_due_txn(*, session: Session, cutoff: datetime, limit: int) -> list[str]:
    """Ids of the records of every (customer, purpose) whose newest record is a
    withdrawal recorded before ``cutoff``: the whole chain, grants included."""
    return store.withdrawn_chains_before(session=session, cutoff=cutoff, limit=limit)


def retention_apply_txn(*, session: Session, ids: Sequence[str], now: datetime) -> int:
    """Delete those records; returns how many went. ``now`` is for the caller's log."""
    del now
    if not ids:
        return 0
    return store.delete_records(session=session, public_ids=ids)
