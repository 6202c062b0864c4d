"""Data-subject requests (GDPR Art. 12, 15-18, 20, 21): the workflow.

States and the only legal moves::

    received ──verify/confirm──▶ identity_verified ──approve──▶ approved ──effect──▶ done
        └──────────reject──────────────┴──────reject──▶ rejected (reason required)

Every move is one row in ``subject_request_event`` (who, when, note); any other
move is refused with 409 ``invalid_transition``. Approval runs the type's
effect (node.services.request_effects.REQUEST_EFFECTS) in the same
transaction and the request is ``done`` when that commits.

Due date (Art. 12(3)): one calendar month after receipt, clamped to the end
of a shorter month (Jan 31 → Feb 28/29). Staff may extend it once, by one or
two months, with a reason, and only while the first month runs; the customer
API shows the extension and its reason, which is how the member is told
(``customer_notified_at``).

Identity: a request filed with the member's own token is verified at filing.
A request staff file starts ``received``; staff verify it in person against an
ID document, or ask the member to confirm it with their token. Matching a
second identifier the requester supplied (email, phone, member number, name)
proves nothing and is refused.

The request's record has its own retention (:func:`retention_due_txn`,
:func:`retention_apply_txn`); the requester's sealed words and values are
deleted as soon as the request is closed.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import fields, replace
from datetime import datetime
from typing import Any

from sqlalchemy.engine import RowMapping
from sqlmodel import Session

from node.clock import isoformat
from node.db import Database
from node.errors import Conflict, NotFound, ValidationFailed
from node.ids import new_id
from node.secrets import NodeSecrets
from node.services import partner_notices
from node.services.idempotency import Answer, Unit, idempotent_unit
from node.services.request_effects import (
    REQUEST_EFFECTS,
    RequestDeps,
    RequestRecord,
    data_key_txn,
    seal_payload,
)
from node.store import subject_requests as store

REQUEST_TYPES = (
    "access",
    "portability",
    "rectification",
    "erasure",
    "restriction",
    "restriction_lift",
    "objection",
)
EXPORT_TYPES = ("access", "portability")
RECEIVED, VERIFIED, APPROVED, REJECTED, DONE = (
    "received",
    "identity_verified",
    "approved",
    "rejected",
    "done",
)
TRANSITIONS: dict[str, tuple[str, ...]] = {
    RECEIVED: (VERIFIED, REJECTED),
    VERIFIED: (APPROVED, REJECTED),
    APPROVED: (DONE,),
}
CUSTOMER = "customer"
#: How staff may verify identity.
STAFF_METHODS = ("customer_token_confirmation", "in_person_document")
#: Methods that only match something the requester said; they verify nothing.
SECOND_IDENTIFIER_METHODS = (
    "email",
    "email_match",
    "phone",
    "phone_match",
    "member_number",
    "name",
    "name_match",
)


def add_months(moment: datetime, months: int) -> datetime:
    """The same time ``months`` calendar months later, clamped to the month's last day."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def request_view(row: RowMapping, *, now: datetime) -> dict[str, Any]:
    """A request as both APIs show it; never any personal data."""

    def at(value: datetime | None) -> str | None:
        return isoformat(value) if value is not None else None

    open_ = row["state"] in store.OPEN_STATES
    extension = None
    if row["extension_months"] is not None:
        extension = {
            "months": row["extension_months"],
            "reason": row["extension_reason"],
            "customer_notified_at": at(row["customer_notified_at"]),
        }
    return {
        "id": row["public_id"],
        "customer_id": row["customer_id"],
        "type": row["type"],
        "state": row["state"],
        "channel": row["channel"],
        "received_at": at(row["received_at"]),
        "original_due_at": at(row["original_due_at"]),
        "due_at": at(row["due_at"]),
        "overdue": open_ and row["due_at"] < now,
        "extension": extension,
        "verification": {
            "method": row["verification_method"],
            "verified_at": at(row["verified_at"]),
            "verified_by": row["verified_by"],
        },
        "decided_at": at(row["decided_at"]),
        "decided_by": row["decided_by"],
        "rejection_reason": row["rejection_reason"],
        "done_at": at(row["done_at"]),
        "outcome": json.loads(row["outcome"]) if row["outcome"] else None,
        "export_available": export_available(row),
    }


def export_available(row: RowMapping) -> bool:
    return row["type"] in EXPORT_TYPES and row["state"] == DONE and row["verified_at"] is not None


def _payload_digest(secrets: NodeSecrets, payload: dict[str, Any]) -> str:
    """A keyed digest: recognises a repeated filing without storing what it said."""
    document = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hmac.new(secrets.request_key, document.encode(), hashlib.sha256).hexdigest()


def file_request_unit(
    *,
    secrets: NodeSecrets,
    customer_id: str,
    type: str,
    channel: str,
    filed_by: str,
    details: str | None,
    changes: dict[str, Any] | None,
    idempotency_key: str,
    now: datetime,
) -> Unit:
    """File a request; one filed with the member's own token (``filed_by`` customer)
    is identity-verified at once."""
    if type not in REQUEST_TYPES:
        raise ValidationFailed(f"type must be one of {', '.join(REQUEST_TYPES)}", field="type")
    if type == "rectification" and not changes:
        raise ValidationFailed("a rectification names the new values", field="changes")
    if type != "rectification" and changes:
        raise ValidationFailed("only a rectification carries new values", field="changes")
    payload: dict[str, Any] = {}
    if details:
        payload["details"] = details
    if changes:
        payload["changes"] = changes

    def work(session: Session) -> Answer:
        status = store.customer_status(session=session, customer_id=customer_id)
        if status is None:
            raise NotFound("no such customer", field="customer_id")
        if status != "active":
            raise Conflict(
                "this member's data has been erased; no further requests can be filed",
                code="customer_erased",
            )
        sealed = None
        if payload:
            data_key = data_key_txn(session=session, secrets=secrets, customer_id=customer_id)
            sealed = seal_payload(data_key, customer_id, payload)
        due = add_months(now, 1)
        request_id = store.insert_request(
            session=session,
            values={
                "public_id": new_id("dsr"),
                "customer_id": customer_id,
                "type": type,
                "state": RECEIVED,
                "channel": channel,
                "filed_by": filed_by,
                "sealed_payload": sealed,
                "received_at": now,
                "original_due_at": due,
                "due_at": due,
                "updated_at": now,
            },
        )
        store.insert_event(
            session=session,
            request_id=request_id,
            from_state=None,
            to_state=RECEIVED,
            actor=filed_by,
            note=f"filed through {channel}",
            at=now,
        )
        if filed_by == CUSTOMER:
            _move_txn(
                session=session,
                row=store.request_by_id(session=session, request_id=request_id),
                to=VERIFIED,
                actor=CUSTOMER,
                note="filed with the member's own token",
                now=now,
                values={
                    "verification_method": "customer_token",
                    "verified_at": now,
                    "verified_by": CUSTOMER,
                },
            )
        return Answer(
            201, request_view(store.request_by_id(session=session, request_id=request_id), now=now)
        )

    return idempotent_unit(
        key=idempotency_key,
        operation="subject_request.file",
        request={
            "customer_id": customer_id,
            "type": type,
            "channel": channel,
            "payload": _payload_digest(secrets, payload),
        },
        now=now,
        work=work,
    )


def _require_txn(*, session: Session, public_id: str, customer_id: str | None = None) -> RowMapping:
    row = store.request_by_public_id(session=session, public_id=public_id, for_update=True)
    if row is None or (customer_id is not None and row["customer_id"] != customer_id):
        raise NotFound("no such request", field="id")
    return row


def _move_txn(
    *,
    session: Session,
    row: RowMapping,
    to: str,
    actor: str,
    note: str | None,
    now: datetime,
    values: dict[str, Any] | None = None,
) -> None:
    if to not in TRANSITIONS.get(row["state"], ()):
        raise Conflict(
            f"a request that is {row['state']} cannot become {to}", code="invalid_transition"
        )
    store.update_request(
        session=session,
        request_id=row["id"],
        values={**(values or {}), "state": to, "updated_at": now},
    )
    store.insert_event(
        session=session,
        request_id=row["id"],
        from_state=row["state"],
        to_state=to,
        actor=actor,
        note=note,
        at=now,
    )


def _step_unit(
    *,
    operation: str,
    request_id: str,
    extra: dict[str, Any],
    key: str,
    now: datetime,
    step: Any,
) -> Unit:
    def work(session: Session) -> Answer:
        step(session)
        row = store.request_by_public_id(session=session, public_id=request_id)
        assert row is not None
        return Answer(200, request_view(row, now=now))

    return idempotent_unit(
        key=key,
        operation=operation,
        request={"id": request_id, **extra},
        now=now,
        work=work,
    )


def verify_unit(
    *, request_id: str, method: str, actor: str, idempotency_key: str, now: datetime
) -> Unit:
    """Staff verify the requester's identity with a method from :data:`STAFF_METHODS`."""
    if method in SECOND_IDENTIFIER_METHODS:
        raise ValidationFailed(
            "an unverified second identifier cannot verify identity (matching an email, "
            "phone, member number or name proves nothing); use in_person_document or "
            "customer_token_confirmation",
            field="method",
        )
    if method not in STAFF_METHODS:
        raise ValidationFailed(f"method must be one of {', '.join(STAFF_METHODS)}", field="method")

    def step(session: Session) -> None:
        row = _require_txn(session=session, public_id=request_id)
        if method == "in_person_document":
            _move_txn(
                session=session,
                row=row,
                to=VERIFIED,
                actor=actor,
                note="staff checked an identity document in person",
                now=now,
                values={"verification_method": method, "verified_at": now, "verified_by": actor},
            )
            return
        if row["state"] != RECEIVED:
            raise Conflict(
                f"a request that is {row['state']} needs no verification",
                code="invalid_transition",
            )
        store.update_request(
            session=session,
            request_id=row["id"],
            values={"verification_method": method, "updated_at": now},
        )
        store.insert_event(
            session=session,
            request_id=row["id"],
            from_state=RECEIVED,
            to_state=RECEIVED,
            actor=actor,
            note="waiting for the member to confirm with their token",
            at=now,
        )

    return _step_unit(
        operation="subject_request.verify",
        request_id=request_id,
        extra={"method": method},
        key=idempotency_key,
        now=now,
        step=step,
    )


def confirm_unit(*, customer_id: str, request_id: str, idempotency_key: str, now: datetime) -> Unit:
    """The member confirms, with their own token, a request staff filed for them."""

    def step(session: Session) -> None:
        row = _require_txn(session=session, public_id=request_id, customer_id=customer_id)
        _move_txn(
            session=session,
            row=row,
            to=VERIFIED,
            actor=CUSTOMER,
            note="confirmed by the member with their token",
            now=now,
            values={
                "verification_method": "customer_token_confirmation",
                "verified_at": now,
                "verified_by": CUSTOMER,
            },
        )

    return _step_unit(
        operation="subject_request.confirm",
        request_id=request_id,
        extra={},
        key=idempotency_key,
        now=now,
        step=step,
    )


def approve_unit(
    *, node: RequestDeps, request_id: str, actor: str, idempotency_key: str, now: datetime
) -> Unit:
    """Approve a verified request and carry out its effect; it is then done."""

    def step(session: Session) -> None:
        row = _require_txn(session=session, public_id=request_id)
        if row["state"] == RECEIVED:
            raise Conflict(
                "the requester's identity must be verified before the request is approved",
                code="invalid_transition",
            )
        _move_txn(
            session=session,
            row=row,
            to=APPROVED,
            actor=actor,
            note=None,
            now=now,
            values={"decided_at": now, "decided_by": actor},
        )
        names = {f.name for f in fields(RequestRecord)}
        record = RequestRecord(**{k: v for k, v in row.items() if k in names})
        record = replace(record, decided_by=actor)
        outcome = REQUEST_EFFECTS[row["type"]](session=session, node=node, request=record, now=now)
        approved = store.request_by_public_id(session=session, public_id=request_id)
        assert approved is not None
        _move_txn(
            session=session,
            row=approved,
            to=DONE,
            actor="system",
            note=outcome.summary,
            now=now,
            values={
                "done_at": now,
                "sealed_payload": None,
                "outcome": json.dumps(
                    {"summary": outcome.summary, **outcome.detail}, separators=(",", ":")
                ),
            },
        )

    return _step_unit(
        operation="subject_request.approve",
        request_id=request_id,
        extra={},
        key=idempotency_key,
        now=now,
        step=step,
    )


def scrub_after_erasure(db: Database, *, request_id: str) -> None:
    """Once an erasure is done, leave no old copy of the profile in SQLite's WAL."""
    with db.read() as session:
        row = store.request_by_public_id(session=session, public_id=request_id)
    if row is not None and row["type"] == "erasure" and row["state"] == DONE:
        db.scrub_wal()


def reject_unit(
    *, request_id: str, actor: str, reason: str, idempotency_key: str, now: datetime
) -> Unit:
    """Refuse a request; the reason is recorded and shown to the member."""
    if not reason.strip():
        raise ValidationFailed("a rejection needs a reason", field="reason")

    def step(session: Session) -> None:
        row = _require_txn(session=session, public_id=request_id)
        _move_txn(
            session=session,
            row=row,
            to=REJECTED,
            actor=actor,
            note=reason,
            now=now,
            values={
                "decided_at": now,
                "decided_by": actor,
                "rejection_reason": reason,
                "sealed_payload": None,
            },
        )

    return _step_unit(
        operation="subject_request.reject",
        request_id=request_id,
        extra={"reason": reason},
        key=idempotency_key,
        now=now,
        step=step,
    )


def extend_unit(
    *,
    request_id: str,
    actor: str,
    months: int,
    reason: str,
    idempotency_key: str,
    now: datetime,
) -> Unit:
    """Extend the deadline once by one or two months (Art. 12(3)), within the first month."""
    if months not in (1, 2):
        raise ValidationFailed("an extension is one or two months", field="months")
    if not reason.strip():
        raise ValidationFailed("an extension needs a reason", field="reason")

    def step(session: Session) -> None:
        row = _require_txn(session=session, public_id=request_id)
        if row["state"] not in store.OPEN_STATES:
            raise Conflict(
                f"a request that is {row['state']} cannot be extended", code="invalid_transition"
            )
        if row["extension_months"] is not None:
            raise Conflict("the deadline was already extended once", code="already_extended")
        if now >= row["original_due_at"]:
            raise Conflict(
                "the deadline can only be extended within the first month after receipt",
                code="extension_too_late",
            )
        store.update_request(
            session=session,
            request_id=row["id"],
            values={
                "extension_months": months,
                "extension_reason": reason,
                "due_at": add_months(row["received_at"], 1 + months),
                "customer_notified_at": now,
                "updated_at": now,
            },
        )
        store.insert_event(
            session=session,
            request_id=row["id"],
            from_state=row["state"],
            to_state=row["state"],
            actor=actor,
            note=f"deadline extended by {months} month(s): {reason}",
            at=now,
        )

    return _step_unit(
        operation="subject_request.extend",
        request_id=request_id,
        extra={"months": months, "reason": reason},
        key=idempotency_key,
        now=now,
        step=step,
    )


def get_request(
    db: Database, *, request_id: str, now: datetime, customer_id: str | None = None
) -> dict[str, Any]:
    """One request with its history; ``customer_id`` limits it to that member's own."""
    with db.read() as session:
        row = store.request_by_public_id(session=session, public_id=request_id)
        if row is None or (customer_id is not None and row["customer_id"] != customer_id):
            raise NotFound("no such request", field="id")
        events = store.events_of(session=session, request_id=row["id"])
        notices = partner_notices.notices_for_request_txn(
            session=session, request_ref=row["public_id"]
        )
    view = request_view(row, now=now)
    view["partner_notices"] = [
        {
            "partner": notice.partner,
            "kind": notice.kind,
            "state": notice.state,
            "id": notice.id,
            "answered_at": isoformat(notice.answered_at) if notice.answered_at else None,
            "receipt": notice.receipt,
        }
        for notice in notices
    ]
    view["history"] = [
        {
            "from_state": event["from_state"],
            "to_state": event["to_state"],
            "actor": event["actor"],
            "note": event["note"],
            "at": isoformat(event["at"]),
        }
        for event in events
    ]
    return view


def list_requests(
    db: Database,
    *,
    now: datetime,
    customer_id: str | None = None,
    state: str | None = None,
    type: str | None = None,
    overdue: bool = False,
    cursor: str | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    after = None
    if cursor is not None:
        if not cursor.isdigit():
            raise ValidationFailed("cursor is not one this API gave out", field="cursor")
        after = int(cursor)
    with db.read() as session:
        rows = store.list_requests(
            session=session,
            customer_id=customer_id,
            state=state,
            type=type,
            overdue_at=now if overdue else None,
            after_id=after,
            limit=limit + 1,
        )
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "items": [request_view(row, now=now) for row in rows],
        "next_cursor": str(rows[-1]["id"]) if more else None,
    }


def retention_due_txn(*, session: Session, cutoff: datetime, limit: int) -> list[str]:
    """Ids of requests done or rejected before ``cutoff`` (their record may now go)."""
    return store.closed_before(session=session, cutoff=cutoff, limit=limit)


def retention_apply_txn(*, session: Session, ids: Sequence[str], now: datetime) -> int:
    """Delete those requests and their history; open requests are never deleted."""
    del now  # the retention job records when, in its own rows
    return store.delete_closed(session=session, public_ids=ids)
