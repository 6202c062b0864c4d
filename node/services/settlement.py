"""Clearing and settlement with each partner, period by period.

Every accepted cross-node event wrote a clearing entry for the pair (the
creditor is owed ``value_minor``, see node.services.transfers). Settlement
nets them per pair and period ``[period_start, period_end)`` (Unix seconds of
the request ``iat``):

- ``statement_unit`` (sender): build a ``settlement.statement`` from our
  entries of the period (protocol.settlement.build_statement), queue it in
  the outbox in the same transaction, and move our side of the period
  ``open → closed → awaiting_answer`` by the protocol's state machine. A
  period is refused while it is not over; and, unless ``force``, until
  ``MAX_MESSAGE_LIFETIME`` (7 days) after its end, when every request of the
  period has its final outcome on both sides (the protocol's waiting rule).
  Operations of the pair in the period that still wait for an answer refuse
  it even with ``force``: the statement would be wrong on its face.
- ``handle_settlement_statement`` (receiver, in the inbox's transaction):
  compare with our own entries of the pair and period and answer ``agreed``
  or ``disputed`` with the differing refs (protocol.answer_statement). The
  inbox stores that answer per statement id, so a repeat gets it back.
- ``on_settlement_answer`` (sender): the answer moves the period to
  ``agreed``, ``disputed`` (send a revised statement once reconciled) or back
  to ``closed`` (rejected: send again). Answers to superseded statements
  change nothing; one contradicting a final state is logged.
- ``payment_unit``: money moves outside Konsort; a payment recorded against
  an ``agreed`` period counts towards its net, and the period is ``settled``
  when paid in full. A period that agrees on a net of zero is settled at once.

Amounts are integers in minor units of the settlement currency; a period's
``net_minor`` is from this node's view (positive: the partner owes us).
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime
from typing import Any

from sqlmodel import Session

from node.clock import isoformat
from node.db import Database
from node.errors import Conflict, NotFound, ValidationFailed
from node.ids import new_id
from node.services import outbox
from node.services.federation import Federation, from_unix, unix
from node.services.idempotency import Answer as ApiAnswer
from node.services.idempotency import Unit, idempotent_unit
from node.services.inbox import InboxContext
from node.store import settlement as store
from node.store.settlement_models import SettlementPeriodRecord
from protocol import (
    MAX_MESSAGE_LIFETIME,
    Answer,
    Message,
    PaymentRecorded,
    PeriodEnded,
    PeriodStatus,
    ReportSettlementConflict,
    SettlementAnswer,
    SettlementPeriod,
    SettlementStatement,
    StatementAnswered,
    StatementEntry,
    StatementSent,
    answer_statement,
    build_statement,
    canonical_json,
    open_period,
    reject,
    settlement_step,
)
from protocol.messages import MAX_STATEMENT_ENTRIES

log = logging.getLogger("konsort.settlement")

#: How long after a period's end a statement may be built without ``force``.
WAIT_SECONDS = MAX_MESSAGE_LIFETIME
#: Largest statement body (canonical JSON) we send: signed and base64url-encoded it
#: stays under the 16 KiB a node's inbox accepts (node.routes.federation).
MAX_STATEMENT_BODY_BYTES = 11_000
#: A payment's reference: an identifier from the bank or transfer, never free text.
PAYMENT_REFERENCE = re.compile(r"^[A-Za-z0-9._:/-]{1,64}$")


def _differing(text: str | None) -> list[str]:
    return list(json.loads(text)) if text else []


def _state(record: SettlementPeriodRecord) -> SettlementPeriod:
    return SettlementPeriod(
        peer=record.peer,
        period_id=record.public_id,
        period_end=record.period_end,
        status=PeriodStatus(record.status),
        statement_id=record.statement_id,
        net_minor=record.net_minor,
        differing=tuple(_differing(record.differing)),
    )


def _save_txn(
    *,
    session: Session,
    record: SettlementPeriodRecord,
    state: SettlementPeriod,
    paid: int,
    now: datetime,
) -> None:
    assert record.id is not None
    store.update_period(
        session=session,
        period_id=record.id,
        status=state.status.value,
        statement_id=state.statement_id,
        net_minor=state.net_minor,
        differing=json.dumps(list(state.differing)) if state.differing else None,
        paid_minor=paid,
        now=now,
    )


def period_json_txn(
    *, session: Session, node_id: str, record: SettlementPeriodRecord
) -> dict[str, Any]:
    """The API's view of a period: who owes whom, its statements and payments."""
    assert record.id is not None
    statements = store.statements_of(session=session, period_ids=[record.id])
    payments = store.payments_of(session=session, period_ids=[record.id])
    net = record.net_minor
    owed_by = owed_to = None
    if net:
        owed_by, owed_to = (record.peer, node_id) if net > 0 else (node_id, record.peer)
    current = next((s for s in statements if s.message_id == record.statement_id), None)
    return {
        "id": record.public_id,
        "partner": record.peer,
        "period_start": isoformat(from_unix(record.period_start)),
        "period_end": isoformat(from_unix(record.period_end)),
        "state": record.status,
        "net_minor": net,
        "owed_by": owed_by,
        "owed_to": owed_to,
        "amount_minor": abs(net) if net is not None else None,
        "paid_minor": record.paid_minor,
        "entries": current.entries if current else None,
        "differing": _differing(record.differing),
        "statements": [
            {
                "message_id": s.message_id,
                "net_minor": s.net_minor,
                "entries": s.entries,
                "sent_at": isoformat(s.sent_at),
                "outcome": s.outcome,
                "reason": s.reason,
                "partner_net_minor": s.answer_net_minor,
                "differing": _differing(s.differing),
            }
            for s in statements
        ],
        "payments": [
            {
                "id": p.public_id,
                "amount_minor": p.amount_minor,
                "payer": p.payer,
                "reference": p.reference,
                "recorded_by": p.recorded_by,
                "recorded_at": isoformat(p.created_at),
            }
            for p in payments
        ],
        "created_at": isoformat(record.created_at),
        "updated_at": isoformat(record.updated_at),
    }


def statement_entries_txn(
    *, session: Session, peer: str, period_start: int, period_end: int
) -> list[StatementEntry]:
    """Our records of the pair and period, as statement entries."""
    rows = store.clearing_in_period(session=session, peer=peer, start=period_start, end=period_end)
    return [
        StatementEntry(ref=r.ref, kind=r.kind, creditor=r.creditor, value_minor=r.value_minor)  # type: ignore[arg-type]
        for r in rows
    ]


def _refuse_unready(
    session: Session, *, partner: str, start: int, end: int, now: datetime, force: bool
) -> None:
    if end <= start:
        raise ValidationFailed("period_end must be after period_start", field="period_end")
    if end > unix(now):
        raise Conflict("the period is not over yet", field="period_end", code="period_not_over")
    ready_at = end + WAIT_SECONDS
    if not force and unix(now) < ready_at:
        raise Conflict(
            "transfers of the period may still be in flight; a statement can be sent from"
            f" {isoformat(from_unix(ready_at))} (or pass force)",
            field="period_end",
            code="period_not_final",
        )
    pending = store.unfinished_operations(session=session, peer=partner, start=start, end=end)
    if pending:
        raise Conflict(
            f"{pending} operations with {partner} in the period wait for their outcome",
            field="period_end",
            code="operations_pending",
        )
    overlap = store.overlapping_period(session=session, peer=partner, start=start, end=end)
    if overlap is not None:
        raise Conflict(
            f"the period overlaps period {overlap.public_id} with {partner}",
            field="period_start",
            code="period_overlaps",
        )


def statement_unit(
    fed: Federation,
    *,
    partner: str,
    period_start: datetime,
    period_end: datetime,
    idempotency_key: str,
    now: datetime,
    force: bool = False,
) -> Unit:
    """Send ``partner`` our statement of ``[period_start, period_end)``; answers 202."""
    start, end = unix(period_start), unix(period_end)

    def work(session: Session) -> ApiAnswer:
        manifest = fed.require_manifest_txn(session=session)
        if partner == fed.node_id:
            raise ValidationFailed("settlement is with another node, not this one", field="partner")
        fed.member(manifest, partner)
        _refuse_unready(session, partner=partner, start=start, end=end, now=now, force=force)
        record = store.period_by_bounds(session=session, peer=partner, start=start, end=end)
        if record is None:
            record = store.insert_period(
                session=session,
                public_id=new_id("stl"),
                peer=partner,
                start=start,
                end=end,
                status=PeriodStatus.OPEN.value,
                now=now,
            )
            state, _ = settlement_step(
                open_period(partner, record.public_id, period_end=end), PeriodEnded(unix(now))
            )
        else:
            state = _state(record)
        if state.status is PeriodStatus.AWAITING_ANSWER:
            raise Conflict(
                "the statement sent for this period awaits its answer",
                code="statement_awaiting_answer",
            )
        if state.status in (PeriodStatus.AGREED, PeriodStatus.SETTLED):
            raise Conflict(f"the period is {state.status.value} already", code="period_agreed")
        entries = statement_entries_txn(
            session=session, peer=partner, period_start=start, period_end=end
        )
        if len(entries) > MAX_STATEMENT_ENTRIES:
            raise ValidationFailed(
                f"{len(entries)} entries exceed the {MAX_STATEMENT_ENTRIES} a statement holds;"
                " use shorter periods",
                field="period_end",
                code="period_too_long",
            )
        statement = build_statement(
            entries,
            sender=fed.node_id,
            period_id=record.public_id,
            period_start=start,
            period_end=end,
            currency=manifest.settlement_currency,
            manifest_version=manifest.version,
        )
        if len(canonical_json(statement.model_dump(mode="json"))) > MAX_STATEMENT_BODY_BYTES:
            raise ValidationFailed(
                "the statement is too large for one message; use shorter periods",
                field="period_end",
                code="period_too_long",
            )
        sent = outbox.enqueue_txn(
            session=session, fed=fed, body=statement, audience=partner, now=now
        )
        state, _ = settlement_step(state, StatementSent(sent.message_id, statement.net_minor))
        assert record.id is not None
        store.insert_statement(
            session=session,
            message_id=sent.message_id,
            period_id=record.id,
            net_minor=statement.net_minor,
            entries=len(entries),
            now=now,
        )
        _save_txn(session=session, record=record, state=state, paid=record.paid_minor, now=now)
        saved = store.period_by_public_id(session=session, public_id=record.public_id)
        assert saved is not None
        return ApiAnswer(202, period_json_txn(session=session, node_id=fed.node_id, record=saved))

    return idempotent_unit(
        key=idempotency_key,
        operation="settlement-statement",
        request={"partner": partner, "period_start": start, "period_end": end, "force": force},
        now=now,
        work=work,
    )


def handle_settlement_statement(session: Session, ctx: InboxContext, message: Message) -> Answer:
    """At the receiver: agree with the statement or list the refs that differ."""
    body = message.body
    assert isinstance(body, SettlementStatement)
    if body.currency != ctx.manifest.settlement_currency:
        return reject(message, "manifest_mismatch")
    ours = statement_entries_txn(
        session=session,
        peer=message.issuer,
        period_start=body.period_start,
        period_end=body.period_end,
    )
    return answer_statement(message, ours)


def on_settlement_answer(
    session: Session, fed: Federation, received: outbox.ReceivedAnswer, now: datetime
) -> None:
    """At the sender: the partner's answer moves our side of the period."""
    answer = received.answer
    assert isinstance(answer, SettlementAnswer)
    record = store.period_by_statement(session=session, message_id=received.message_id)
    if record is None:
        return
    differing = tuple(answer.differing)
    store.record_answer(
        session=session,
        message_id=received.message_id,
        outcome=answer.outcome,
        reason=answer.reason,
        answer_net_minor=answer.net_minor,
        differing=json.dumps(list(differing)) if differing else None,
        now=now,
    )
    state, effects = settlement_step(
        _state(record), StatementAnswered(received.message_id, answer.outcome, differing)
    )
    for effect in effects:
        if isinstance(effect, ReportSettlementConflict):
            log.warning(
                "settlement answer contradicts the period",
                extra={
                    "period": record.public_id,
                    "partner": record.peer,
                    "outcome": answer.outcome,
                },
            )
    if state.status is PeriodStatus.AGREED and not state.net_minor:
        state, _ = settlement_step(state, PaymentRecorded(0))  # nothing to pay
    _save_txn(session=session, record=record, state=state, paid=record.paid_minor, now=now)


def payment_unit(
    *,
    node_id: str,
    period_id: str,
    amount_minor: int,
    reference: str,
    idempotency_key: str,
    now: datetime,
    recorded_by: str,
) -> Unit:
    """Record money paid outside Konsort against an agreed period; answers 201."""

    if amount_minor <= 0:
        raise ValidationFailed("a payment is a positive amount", field="amount")
    if not PAYMENT_REFERENCE.match(reference):
        raise ValidationFailed(
            "the reference is 1-64 letters, digits and . _ : / -", field="reference"
        )

    def work(session: Session) -> ApiAnswer:
        record = store.period_by_public_id(session=session, public_id=period_id)
        if record is None:
            raise NotFound(f"no settlement period {period_id}")
        if record.status == PeriodStatus.SETTLED.value:
            raise Conflict("the period is settled already", code="period_settled")
        if record.status != PeriodStatus.AGREED.value:
            raise Conflict(
                f"payments are recorded against an agreed period; this one is {record.status}",
                code="period_not_agreed",
            )
        net = record.net_minor or 0
        outstanding = abs(net) - record.paid_minor
        if amount_minor > outstanding:
            raise ValidationFailed(f"the period has {outstanding} outstanding", field="amount")
        assert record.id is not None
        payment_id = new_id("pay")
        store.insert_payment(
            session=session,
            public_id=payment_id,
            period_id=record.id,
            amount_minor=amount_minor,
            payer=record.peer if net > 0 else node_id,
            reference=reference,
            recorded_by=recorded_by,
            now=now,
        )
        paid = record.paid_minor + amount_minor
        state = _state(record)
        if paid == abs(net):
            state, _ = settlement_step(state, PaymentRecorded(abs(net)))
        _save_txn(session=session, record=record, state=state, paid=paid, now=now)
        saved = store.period_by_public_id(session=session, public_id=period_id)
        assert saved is not None
        view = period_json_txn(session=session, node_id=node_id, record=saved)
        payment = next(p for p in view["payments"] if p["id"] == payment_id)
        return ApiAnswer(201, {"payment": payment, "period": view})

    return idempotent_unit(
        key=idempotency_key,
        operation="settlement-payment",
        request={"period_id": period_id, "amount": amount_minor, "reference": reference},
        now=now,
        work=work,
    )


def list_periods(
    db: Database, *, node_id: str, partner: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Our periods, newest first, with net, state, statements and payments."""
    with db.read() as session:
        found = store.periods(session=session, peer=partner, limit=limit)
        return [period_json_txn(session=session, node_id=node_id, record=r) for r in found]


def get_period(db: Database, *, node_id: str, period_id: str) -> dict[str, Any]:
    """One of our periods, as in :func:`list_periods`."""
    with db.read() as session:
        record = store.period_by_public_id(session=session, public_id=period_id)
        if record is None:
            raise NotFound(f"no settlement period {period_id}", field="id")
        return period_json_txn(session=session, node_id=node_id, record=record)
