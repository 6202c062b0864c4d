"""The transfer state machines, as pure functions ``(state, event) -> (state, effects)``.

One transfer (a ``transfer.request``, one item of a ``transfer.batch``, or a
``redemption.request`` / ``donation.request``, which move value the same way)
has a sender side and a receiver side::

    sender:   pending ──answer──▶ accepted | rejected          (final)
                 │
                 └─clock ≥ exp──▶ expired_unresolved ──answer──▶ accepted | rejected

    receiver: unseen ──first delivery──▶ accepted | rejected   (final)

Why the two sides always end up agreeing:

* only the receiver decides, once, on the first delivery it processes; the
  decision is stored with the message's replay key and every repeat delivery
  is answered with the same outcome (the answer may be re-signed, its body is
  the same);
* a first delivery at or after ``exp`` (receiver's clock) is rejected with
  reason ``expired`` whatever the business decision, so a sender whose message
  sat in an outbox past expiry learns a final outcome instead of waiting;
* the sender never decides on its own: passing ``exp`` without an answer
  (``expired_unresolved``) is not final, points stay in escrow and the sender
  keeps redelivering until an answer arrives; an answer contradicting a final
  state is reported and ignored, never applied.

Hence the receiver must keep its decisions for as long as a sender may still
ask (at least until the settlement period of the message is agreed).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from protocol.messages import Outcome, RejectReason


def transfer_id(message_id: str, item: str | None = None) -> str:
    """Identifier of one transfer: the ``jti``, or ``<jti>:<item>`` in a batch."""
    return message_id if item is None else f"{message_id}:{item}"


class SenderStatus(StrEnum):
    PENDING = "pending"
    EXPIRED_UNRESOLVED = "expired_unresolved"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class ReceiverStatus(StrEnum):
    UNSEEN = "unseen"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class SenderTransfer:
    transfer_id: str
    expires_at: int
    status: SenderStatus = SenderStatus.PENDING
    reason: RejectReason | None = None

    @property
    def final(self) -> bool:
        return self.status in (SenderStatus.ACCEPTED, SenderStatus.REJECTED)


@dataclass(frozen=True, slots=True)
class ReceiverTransfer:
    transfer_id: str
    expires_at: int
    status: ReceiverStatus = ReceiverStatus.UNSEEN
    reason: RejectReason | None = None

    @property
    def final(self) -> bool:
        return self.status is not ReceiverStatus.UNSEEN


# -- events ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AnswerReceived:
    """A verified answer's outcome for this transfer reached the sender."""

    transfer_id: str
    outcome: Outcome
    reason: RejectReason | None = None


@dataclass(frozen=True, slots=True)
class ClockTick:
    """The sender's clock read ``now``."""

    now: int


@dataclass(frozen=True, slots=True)
class DeliveryFailed:
    """An attempt to deliver the request got no answer (network, 5xx, timeout)."""

    now: int


@dataclass(frozen=True, slots=True)
class AcceptTransfer:
    """The receiver's business rules would accept the transfer."""


@dataclass(frozen=True, slots=True)
class RejectTransfer:
    reason: RejectReason


@dataclass(frozen=True, slots=True)
class Delivered:
    """The verified request reached the receiver at its time ``now``.

    ``decision`` is what its business rules say; it is used on the first
    delivery only.
    """

    now: int
    decision: AcceptTransfer | RejectTransfer


SenderEvent = AnswerReceived | ClockTick | DeliveryFailed
ReceiverEvent = Delivered


# -- effects ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HoldEscrow:
    """Debit the customer into the escrow account (same transaction as the outbox)."""


@dataclass(frozen=True, slots=True)
class Deliver:
    """Send (or send again) the stored request token."""


@dataclass(frozen=True, slots=True)
class ScheduleRetry:
    """Deliver again later, with backoff."""


@dataclass(frozen=True, slots=True)
class ReleaseEscrow:
    """Accepted: move the escrowed value into the clearing account with the receiver."""


@dataclass(frozen=True, slots=True)
class RefundEscrow:
    """Rejected: return the escrowed points to the customer."""

    reason: RejectReason | None


@dataclass(frozen=True, slots=True)
class MarkUnresolved:
    """``exp`` passed without an answer: show the escrow as in doubt, keep asking."""


@dataclass(frozen=True, slots=True)
class ReportConflict:
    """An answer contradicts the final outcome; nothing is applied."""

    outcome: Outcome
    reason: RejectReason | None


@dataclass(frozen=True, slots=True)
class ApplyCredit:
    """Accepted on first delivery: credit the customer, record the clearing entry."""


@dataclass(frozen=True, slots=True)
class SendAnswer:
    """Answer with this outcome (the stored one on repeats)."""

    outcome: Outcome
    reason: RejectReason | None


SenderEffect = (
    HoldEscrow
    | Deliver
    | ScheduleRetry
    | ReleaseEscrow
    | RefundEscrow
    | MarkUnresolved
    | ReportConflict
)
ReceiverEffect = ApplyCredit | SendAnswer


# -- sender ---------------------------------------------------------------------


def start_transfer(
    transfer_id: str, *, expires_at: int
) -> tuple[SenderTransfer, tuple[SenderEffect, ...]]:
    """A new outgoing transfer: hold the points in escrow and deliver."""
    return SenderTransfer(transfer_id, expires_at), (HoldEscrow(), Deliver())


def sender_step(
    state: SenderTransfer, event: SenderEvent
) -> tuple[SenderTransfer, tuple[SenderEffect, ...]]:
    """Advance the sender side by one event."""
    if isinstance(event, ClockTick):
        if state.status is SenderStatus.PENDING and event.now >= state.expires_at:
            return replace(state, status=SenderStatus.EXPIRED_UNRESOLVED), (MarkUnresolved(),)
        return state, ()
    if isinstance(event, DeliveryFailed):
        return state, () if state.final else (ScheduleRetry(),)
    if event.transfer_id != state.transfer_id:
        raise ValueError(f"answer for {event.transfer_id!r} given to {state.transfer_id!r}")
    if event.outcome == "rejected" and event.reason is None:
        raise ValueError("a rejection has a reason")
    if state.final:
        if event.outcome == state.status.value and event.reason == state.reason:
            return state, ()
        return state, (ReportConflict(event.outcome, event.reason),)
    if event.outcome == "accepted":
        return replace(state, status=SenderStatus.ACCEPTED), (ReleaseEscrow(),)
    return (
        replace(state, status=SenderStatus.REJECTED, reason=event.reason),
        (RefundEscrow(event.reason),),
    )


# -- receiver -------------------------------------------------------------------


def receive_transfer(transfer_id: str, *, expires_at: int) -> ReceiverTransfer:
    """The receiver's state for a transfer it has not processed yet."""
    return ReceiverTransfer(transfer_id, expires_at)


def receiver_step(
    state: ReceiverTransfer, event: ReceiverEvent
) -> tuple[ReceiverTransfer, tuple[ReceiverEffect, ...]]:
    """Advance the receiver side by one delivery of the (verified) request."""
    if state.final:
        outcome: Outcome = "accepted" if state.status is ReceiverStatus.ACCEPTED else "rejected"
        return state, (SendAnswer(outcome, state.reason),)
    if event.now >= state.expires_at:
        rejected = replace(state, status=ReceiverStatus.REJECTED, reason="expired")
        return rejected, (SendAnswer("rejected", "expired"),)
    if isinstance(event.decision, RejectTransfer):
        reason = event.decision.reason
        rejected = replace(state, status=ReceiverStatus.REJECTED, reason=reason)
        return rejected, (SendAnswer("rejected", reason),)
    accepted = replace(state, status=ReceiverStatus.ACCEPTED)
    return accepted, (ApplyCredit(), SendAnswer("accepted", None))
