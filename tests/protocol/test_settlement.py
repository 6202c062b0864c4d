"""Settlement: statements, comparing records, and the period state machine."""

from __future__ import annotations

from typing import Any, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import (
    PeriodStatus,
    SettlementStatement,
    StatementEntry,
    answer_statement,
    build_statement,
    open_period,
    settlement_step,
    sign_message,
    statement_net,
)
from protocol.settlement import (
    PaymentRecorded,
    PeriodEnded,
    Reconcile,
    RecordAgreement,
    ReportSettlementConflict,
    SendStatement,
    StatementAnswered,
    StatementSent,
    differing_refs,
)
from protocol.vectors.fixtures import message_id, signer
from tests.protocol.factories import NOW, make_token, verify


def entry(
    n: int, creditor: str = "bookshop", value: int = 100, issuer: str = "cafe"
) -> StatementEntry:
    return StatementEntry(
        ref=f"{issuer}:{message_id(n)}", kind="transfer", creditor=creditor, value_minor=value
    )


ENTRIES = [entry(1), entry(2, value=250), entry(3, creditor="cafe", value=40, issuer="bookshop")]


def statement(entries: list[StatementEntry]) -> SettlementStatement:
    return build_statement(
        entries,
        sender="cafe",
        period_id="2025-12",
        period_start=NOW - 10**6,
        period_end=NOW - 3600,
        currency="EUR",
        manifest_version=7,
    )


def test_build_statement_sorts_and_nets() -> None:
    built = statement(ENTRIES[::-1])
    assert [e.ref for e in built.entries] == sorted(e.ref for e in ENTRIES)
    assert built.net_minor == 40 - 100 - 250
    assert statement_net(ENTRIES, creditor="bookshop") == 310


def signed_statement(entries: list[StatementEntry], n: int = 50) -> Any:
    token = sign_message(
        statement(entries),
        signer=signer("cafe:k2"),
        audience="bookshop",
        message_id=message_id(n),
        issued_at=NOW - 60,
        expires_at=NOW + 3600,
    )
    return verify(token)


def test_matching_records_agree() -> None:
    answer = answer_statement(signed_statement(ENTRIES), ENTRIES[::-1])
    assert (answer.outcome, answer.differing, answer.net_minor) == ("agreed", [], -310)
    assert answer.in_reply_to == message_id(50)


def test_differences_are_listed() -> None:
    ours = [ENTRIES[0], entry(2, value=251), entry(4)]
    answer = answer_statement(signed_statement(ENTRIES), ours)
    assert answer.outcome == "disputed"
    assert answer.differing == sorted([ENTRIES[1].ref, ENTRIES[2].ref, entry(4).ref])
    assert answer.net_minor == statement_net(ours, creditor="cafe")


@given(
    theirs=st.sets(st.integers(1, 30), max_size=12),
    ours=st.sets(st.integers(1, 30), max_size=12),
    values=st.dictionaries(st.integers(1, 30), st.integers(1, 10**6)),
)
def test_differing_refs_is_exactly_the_disagreement(
    theirs: set[int], ours: set[int], values: dict[int, int]
) -> None:
    mine = [entry(n, value=values.get(n, 7)) for n in ours]
    other = [entry(n) for n in theirs]
    refs = differing_refs(other, mine)
    agreed = {e.ref for e in other} & {e.ref for e in mine} - set(refs)
    assert refs == sorted(set(refs))
    if not refs:
        assert statement_net(other, creditor="cafe") == statement_net(mine, creditor="cafe")
    for e in other + mine:
        assert (e.ref in refs) != (e.ref in agreed)


def test_answer_statement_needs_a_statement() -> None:
    with pytest.raises(TypeError):
        answer_statement(verify(make_token()), [])


# -- the period state machine -----------------------------------------------------


def test_happy_path() -> None:
    state = open_period("bookshop", "2025-12", period_end=NOW)
    assert settlement_step(state, PeriodEnded(NOW - 1)) == (state, ())
    state, effects = settlement_step(state, PeriodEnded(NOW))
    assert state.status is PeriodStatus.CLOSED and effects == (SendStatement(),)
    state, _ = settlement_step(state, StatementSent(message_id(1), -310))
    assert state.status is PeriodStatus.AWAITING_ANSWER
    state, effects = settlement_step(state, StatementAnswered(message_id(1), "agreed"))
    assert state.status is PeriodStatus.AGREED and effects == (RecordAgreement(-310),)
    with pytest.raises(ValueError):
        settlement_step(state, PaymentRecorded(300))
    state, _ = settlement_step(state, PaymentRecorded(310))
    assert state.status is PeriodStatus.SETTLED


def test_dispute_then_revised_statement() -> None:
    state = open_period("bookshop", "p", period_end=NOW)
    state, _ = settlement_step(state, PeriodEnded(NOW))
    state, _ = settlement_step(state, StatementSent(message_id(1), 10))
    refs = (f"cafe:{message_id(9)}",)
    state, effects = settlement_step(state, StatementAnswered(message_id(1), "disputed", refs))
    assert state.status is PeriodStatus.DISPUTED and effects == (Reconcile(refs),)
    state, _ = settlement_step(state, StatementSent(message_id(2), 20))
    # a late repeat of the answer to the superseded statement changes nothing
    assert settlement_step(state, StatementAnswered(message_id(1), "agreed")) == (state, ())
    state, effects = settlement_step(state, StatementAnswered(message_id(2), "agreed"))
    assert state.status is PeriodStatus.AGREED and effects == (RecordAgreement(20),)


def test_rejected_statement_is_sent_again() -> None:
    state = open_period("bookshop", "p", period_end=NOW)
    state, _ = settlement_step(state, PeriodEnded(NOW))
    state, _ = settlement_step(state, StatementSent(message_id(1), 10))
    state, effects = settlement_step(state, StatementAnswered(message_id(1), "rejected"))
    assert state.status is PeriodStatus.CLOSED and effects == (SendStatement(),)


def test_contradicting_answer_is_reported() -> None:
    state = open_period("bookshop", "p", period_end=NOW)
    state, _ = settlement_step(state, PeriodEnded(NOW))
    state, _ = settlement_step(state, StatementSent(message_id(1), 10))
    state, _ = settlement_step(state, StatementAnswered(message_id(1), "agreed"))
    same, effects = settlement_step(state, StatementAnswered(message_id(1), "disputed", ("x",)))
    assert same == state and effects == (ReportSettlementConflict("disputed"),)


def test_statement_only_when_closed_or_disputed() -> None:
    state = open_period("bookshop", "p", period_end=NOW)
    with pytest.raises(ValueError):
        settlement_step(state, StatementSent(message_id(1), 0))


# -- property: the statement sender ends where the answerer decided ------------------


def _answer(statement_id: str, outcome: Literal["agreed", "disputed"]) -> StatementAnswered:
    return StatementAnswered(statement_id, outcome, () if outcome == "agreed" else ("r",))


@settings(max_examples=300)
@given(
    rounds=st.lists(st.booleans(), min_size=1, max_size=5),
    deliveries=st.lists(st.integers(0, 20), max_size=30),
)
def test_agreement_follows_the_answerers_decisions(
    rounds: list[bool], deliveries: list[int]
) -> None:
    """Round n sends statement n, which the answerer agrees to iff ``rounds[n]``
    (it decides once per statement). Answers to every statement sent so far keep
    arriving, duplicated and out of order. The sender ends agreed only on a
    statement the answerer agreed to, with that statement's net, and never
    sees a conflict."""
    state = open_period("bookshop", "p", period_end=NOW)
    state, _ = settlement_step(state, PeriodEnded(NOW))
    decided: dict[str, Literal["agreed", "disputed"]] = {}
    nets: dict[str, int] = {}
    for n, agree in enumerate(rounds):
        if state.status is PeriodStatus.AGREED:
            break
        sid = message_id(n + 1)
        state, _ = settlement_step(state, StatementSent(sid, 100 + n))
        decided[sid], nets[sid] = ("agreed" if agree else "disputed"), 100 + n
        sent = list(decided)
        for pick in deliveries:
            answered = sent[pick % len(sent)]
            state, effects = settlement_step(state, _answer(answered, decided[answered]))
            assert not any(isinstance(e, ReportSettlementConflict) for e in effects)
        state, _ = settlement_step(state, _answer(sid, decided[sid]))
    assert state.statement_id is not None
    assert state.status.value == decided[state.statement_id]
    if state.status is PeriodStatus.AGREED:
        assert state.net_minor == nets[state.statement_id]
        assert state.statement_id == message_id(rounds.index(True) + 1)
