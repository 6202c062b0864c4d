"""Settlement of one pair of members over one period, as pure functions.

Each side of a pair, for each period ``[period_start, period_end)``, sends the
other a signed ``settlement.statement``: every cross-node event whose request
``iat`` falls in the period, sorted by ref, and the net amount. The other side
compares it with its own records (:func:`answer_statement`) and answers
``agreed`` or ``disputed`` with the refs that differ. Money moves outside
Konsort; the node records the payment.

A statement should only be built once every event of the period is final on
both sides (a transfer's outcome is final at most ``MAX_MESSAGE_LIFETIME``
after its ``iat`` plus delivery time), so the node waits after ``period_end``.

The statement sender's state machine::

    open ─period ended─▶ closed ─statement sent─▶ awaiting_answer
                           ▲                         │
                           └──────rejected───────────┤
                                                     ├─agreed──▶ agreed ─payment─▶ settled
                                                     └─disputed─▶ disputed
    disputed ─revised statement sent─▶ awaiting_answer

Only an answer to the *current* statement (``in_reply_to``) moves the state;
answers to superseded statements and repeats are ignored, and an answer that
contradicts a final state is reported, never applied.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum

from protocol.envelope import Message
from protocol.messages import (
    SettlementAnswer,
    SettlementOutcome,
    SettlementStatement,
    StatementEntry,
    statement_net,
)


def build_statement(
    entries: Iterable[StatementEntry],
    *,
    sender: str,
    period_id: str,
    period_start: int,
    period_end: int,
    currency: str,
    manifest_version: int,
) -> SettlementStatement:
    """The statement ``sender`` sends for its records of the period."""
    ordered = sorted(entries, key=lambda e: e.ref)
    return SettlementStatement(
        period_id=period_id,
        period_start=period_start,
        period_end=period_end,
        currency=currency,
        manifest_version=manifest_version,
        entries=ordered,
        net_minor=statement_net(ordered, creditor=sender),
    )


def differing_refs(theirs: Iterable[StatementEntry], ours: Iterable[StatementEntry]) -> list[str]:
    """Sorted refs present on one side only, or present on both with other data."""
    by_ref_theirs = {e.ref: e for e in theirs}
    by_ref_ours = {e.ref: e for e in ours}
    refs = by_ref_theirs.keys() | by_ref_ours.keys()
    return sorted(r for r in refs if by_ref_theirs.get(r) != by_ref_ours.get(r))


def answer_statement(request: Message, ours: Iterable[StatementEntry]) -> SettlementAnswer:
    """Compare a verified statement with our records of the same pair and period."""
    statement = request.body
    if not isinstance(statement, SettlementStatement):
        raise TypeError("not a settlement statement")
    mine = list(ours)
    differing = differing_refs(statement.entries, mine)
    return SettlementAnswer(
        in_reply_to=request.message_id,
        outcome="disputed" if differing else "agreed",
        reason=None,
        net_minor=statement_net(mine, creditor=request.issuer),
        differing=differing,
    )


class PeriodStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    AWAITING_ANSWER = "awaiting_answer"
    DISPUTED = "disputed"
    AGREED = "agreed"
    SETTLED = "settled"


@dataclass(frozen=True, slots=True)
class SettlementPeriod:
    """Our side of one pair and period: our statement and its answer."""

    peer: str
    period_id: str
    period_end: int
    status: PeriodStatus = PeriodStatus.OPEN
    statement_id: str | None = None
    net_minor: int | None = None
    differing: tuple[str, ...] = ()


# -- events ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PeriodEnded:
    now: int


@dataclass(frozen=True, slots=True)
class StatementSent:
    statement_id: str
    net_minor: int


@dataclass(frozen=True, slots=True)
class StatementAnswered:
    in_reply_to: str
    outcome: SettlementOutcome
    differing: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PaymentRecorded:
    amount_minor: int


SettlementEvent = PeriodEnded | StatementSent | StatementAnswered | PaymentRecorded


# -- effects --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SendStatement:
    """Build a statement from our records and send it (again, after a rejection)."""


@dataclass(frozen=True, slots=True)
class RecordAgreement:
    net_minor: int


@dataclass(frozen=True, slots=True)
class Reconcile:
    """Look into the differing refs, then send a revised statement."""

    differing: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ReportSettlementConflict:
    outcome: SettlementOutcome


SettlementEffect = SendStatement | RecordAgreement | Reconcile | ReportSettlementConflict

_FINAL = (PeriodStatus.AGREED, PeriodStatus.SETTLED)


def open_period(peer: str, period_id: str, *, period_end: int) -> SettlementPeriod:
    return SettlementPeriod(peer=peer, period_id=period_id, period_end=period_end)


def settlement_step(
    state: SettlementPeriod, event: SettlementEvent
) -> tuple[SettlementPeriod, tuple[SettlementEffect, ...]]:
    """Advance our side of a settlement period by one event."""
    if isinstance(event, PeriodEnded):
        if state.status is PeriodStatus.OPEN and event.now >= state.period_end:
            return replace(state, status=PeriodStatus.CLOSED), (SendStatement(),)
        return state, ()
    if isinstance(event, StatementSent):
        if state.status not in (PeriodStatus.CLOSED, PeriodStatus.DISPUTED):
            raise ValueError(f"cannot send a statement while {state.status}")
        sent = replace(
            state,
            status=PeriodStatus.AWAITING_ANSWER,
            statement_id=event.statement_id,
            net_minor=event.net_minor,
            differing=(),
        )
        return sent, ()
    net = state.net_minor or 0  # set by StatementSent before any answer counts
    if isinstance(event, PaymentRecorded):
        if state.status is not PeriodStatus.AGREED or event.amount_minor != abs(net):
            raise ValueError("a payment settles an agreed period for its net amount")
        return replace(state, status=PeriodStatus.SETTLED), ()
    if event.in_reply_to != state.statement_id:
        return state, ()  # an answer to a superseded statement
    if state.status is PeriodStatus.AWAITING_ANSWER:
        if event.outcome == "agreed":
            return replace(state, status=PeriodStatus.AGREED), (RecordAgreement(net),)
        if event.outcome == "disputed":
            disputed = replace(state, status=PeriodStatus.DISPUTED, differing=event.differing)
            return disputed, (Reconcile(event.differing),)
        return replace(state, status=PeriodStatus.CLOSED), (SendStatement(),)
    if state.status in _FINAL and event.outcome != "agreed":
        return state, (ReportSettlementConflict(event.outcome),)
    if state.status is PeriodStatus.DISPUTED and event.outcome != "disputed":
        return state, (ReportSettlementConflict(event.outcome),)
    return state, ()
