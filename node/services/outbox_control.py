"""The operator's hand on the outbox: see what waits per partner, send a message
again now, cancel a transfer that never left.

- :func:`unanswered_messages`: every message without its answer, with its
  state: ``queued`` (never sent), ``retrying`` (sent, failed, with the next
  attempt and the last error) or ``overdue`` (past its ``exp``: the partner
  will answer ``expired`` and the member gets the points back once it is
  reachable; the operation is shown "in doubt" until then).
- :func:`retry_now`: the message is due now; the next delivery round (the
  federation job) sends it. Sending twice is harmless (the receiver answers a
  repeat with its stored answer), so any unanswered message may be retried.
- :func:`cancel_transfer`: only a ``transfer.request`` that was **never sent**
  and that no worker holds may be cancelled. The partner has never seen it, so
  it cannot have credited anyone; in one transaction the message is marked
  ``cancelled``, the operation is rejected with reason ``cancelled`` and the
  escrowed points go back to the member through the conclusion path every
  refusal takes (node.services.escrow.conclude_outgoing_txn). A message that
  was sent once may have been accepted: cancelling it could create points, so
  it is refused, as are the other kinds (a link, a notice or a statement must
  reach the partner; a partner reward or a donation carries a voucher or a
  receipt the partner issues). A second cancel changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from node.db import Database
from node.errors import Conflict, NotFound
from node.services import outbox
from node.services.escrow import conclude_outgoing_txn
from node.services.federation import Federation
from node.store import federation as federation_store
from node.store import outbox as store
from protocol import TransferRequest

#: Message kinds an operator may cancel before they are sent.
CANCELLABLE = frozenset({"transfer.request"})
CANCELLED = "cancelled"


def message_state(message: store.QueuedMessage, *, now: datetime) -> str:
    if message.status != "pending":
        return message.status
    if message.expires_at <= now:
        return "overdue"
    return "retrying" if message.attempts else "queued"


def cancellable(message: store.QueuedMessage, *, now: datetime) -> bool:
    """Never sent, not held by a worker, and of a kind whose cancel is a refund."""
    return (
        message.status == "pending"
        and message.message_type in CANCELLABLE
        and message.attempts == 0
        and not message.handed_out
        and message.next_attempt_at <= now
    )


def message_json(message: store.QueuedMessage, *, now: datetime) -> dict[str, Any]:
    """A message for the operator: no token, no member (the body holds pseudonyms only)."""
    return {
        "message_id": message.message_id,
        "partner": message.destination,
        "type": message.message_type,
        "state": message_state(message, now=now),
        "attempts": message.attempts,
        "next_attempt_at": message.next_attempt_at,
        "last_error": message.last_error,
        "created_at": message.created_at,
        "expires_at": message.expires_at,
        "cancellable": cancellable(message, now=now),
    }


def unanswered_messages(db: Database, *, now: datetime, limit: int = 200) -> list[dict[str, Any]]:
    with db.read() as session:
        found = store.unanswered(session=session, limit=limit)
    return [message_json(message, now=now) for message in found]


def find_message(db: Database, *, message_id: str, now: datetime) -> dict[str, Any]:
    """One message still waiting for its answer."""
    with db.read() as session:
        found = store.queued_message(session=session, message_id=message_id)
    if found is None or found.status != "pending":
        raise NotFound("no unanswered message with this id", field="message_id")
    return message_json(found, now=now)


def outbox_summary(db: Database) -> list[federation_store.OutboxSummary]:
    """Queued, retrying and answered per partner (as `konsort federation status`)."""
    with db.read() as session:
        return federation_store.outbox_summary(session=session)


def _require(session: Session, message_id: str) -> store.QueuedMessage:
    found = store.queued_message(session=session, message_id=message_id)
    if found is None:
        raise NotFound("no such message in the outbox", field="message_id")
    return found


def retry_now(db: Database, *, message_id: str, now: datetime) -> None:
    """Make an unanswered message due now; one already answered is refused."""

    def unit(session: Session) -> None:
        found = _require(session, message_id)
        if not store.make_due(session=session, message_id=message_id, now=now):
            raise Conflict(
                f"the message is {found.status} already", field="message_id", code="not_pending"
            )

    db.write(unit)


@dataclass(frozen=True)
class Cancelled:
    message_id: str
    #: Points given back to the member (0 when it was cancelled before).
    refunded: int
    replayed: bool


def cancel_transfer(db: Database, fed: Federation, *, message_id: str, now: datetime) -> Cancelled:
    """Cancel a never-sent transfer and refund its points, once."""

    def unit(session: Session) -> Cancelled:
        found = _require(session, message_id)
        if found.status == CANCELLED:
            return Cancelled(message_id, 0, replayed=True)
        if found.message_type not in CANCELLABLE:
            raise Conflict(
                "only a transfer that was never sent can be cancelled",
                field="message_id",
                code="not_cancellable",
            )
        if not store.cancel_unsent(session=session, message_id=message_id, now=now):
            raise Conflict(
                "the transfer was sent or is being sent: it may have arrived, so it waits"
                " for the partner's answer",
                field="message_id",
                code="not_cancellable",
            )
        request = outbox.request_of(found.token)
        assert isinstance(request, TransferRequest)
        ref = f"{fed.node_id}:{message_id}"
        op = federation_store.operation_by_ref(session=session, ref=ref)
        if op is None or not federation_store.finish_operation(
            session=session, ref=ref, status="rejected", reason=CANCELLED, detail=None, now=now
        ):
            raise Conflict(
                "the transfer has its outcome already", field="message_id", code="not_cancellable"
            )
        conclude_outgoing_txn(
            session=session,
            fed=fed,
            op=op,
            accepted=False,
            points=request.sender_points,
            value_minor=request.value_minor,
            kind="transfer",
            reference=ref,
            now=now,
        )
        return Cancelled(message_id, request.sender_points, replayed=False)

    return db.write(unit)
