"""Transfer state machines: unit rules, and a simulated unreliable network in
which no sequence of duplicates, reorderings, losses and timeouts leaves the
two sides disagreeing about the final outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import (
    ReceiverStatus,
    SenderStatus,
    receive_transfer,
    receiver_step,
    sender_step,
    start_transfer,
    transfer_id,
)
from protocol.transfer import (
    AcceptTransfer,
    AnswerReceived,
    ApplyCredit,
    ClockTick,
    Deliver,
    Delivered,
    DeliveryFailed,
    HoldEscrow,
    MarkUnresolved,
    RefundEscrow,
    RejectTransfer,
    ReleaseEscrow,
    ReportConflict,
    ScheduleRetry,
    SendAnswer,
)

ID = "01KDVECT000000000000000005"
EXP = 1_000


def test_transfer_ids() -> None:
    assert transfer_id(ID) == ID
    assert transfer_id(ID, "a") == f"{ID}:a"


def test_start_holds_escrow_and_delivers() -> None:
    state, effects = start_transfer(ID, expires_at=EXP)
    assert state.status is SenderStatus.PENDING and not state.final
    assert effects == (HoldEscrow(), Deliver())


def test_receiver_accepts_a_first_delivery_before_exp_once() -> None:
    state = receive_transfer(ID, expires_at=EXP)
    state, effects = receiver_step(state, Delivered(EXP - 1, AcceptTransfer()))
    assert state.status is ReceiverStatus.ACCEPTED
    assert effects == (ApplyCredit(), SendAnswer("accepted", None))
    again, effects = receiver_step(state, Delivered(EXP + 10**6, RejectTransfer("policy")))
    assert again == state
    assert effects == (SendAnswer("accepted", None),)


def test_receiver_rejects_a_first_delivery_at_or_after_exp() -> None:
    state, effects = receiver_step(
        receive_transfer(ID, expires_at=EXP), Delivered(EXP, AcceptTransfer())
    )
    assert (state.status, state.reason) == (ReceiverStatus.REJECTED, "expired")
    assert effects == (SendAnswer("rejected", "expired"),)


def test_receiver_business_rejection_is_stored() -> None:
    state, _ = receiver_step(
        receive_transfer(ID, expires_at=EXP), Delivered(0, RejectTransfer("policy"))
    )
    _, effects = receiver_step(state, Delivered(1, AcceptTransfer()))
    assert effects == (SendAnswer("rejected", "policy"),)


def test_sender_timeout_is_not_final() -> None:
    state, _ = start_transfer(ID, expires_at=EXP)
    same, effects = sender_step(state, ClockTick(EXP - 1))
    assert same == state and effects == ()
    state, effects = sender_step(state, ClockTick(EXP))
    assert state.status is SenderStatus.EXPIRED_UNRESOLVED and not state.final
    assert effects == (MarkUnresolved(),)
    assert sender_step(state, ClockTick(EXP + 1)) == (state, ())
    state, effects = sender_step(state, AnswerReceived(ID, "accepted"))
    assert state.status is SenderStatus.ACCEPTED and effects == (ReleaseEscrow(),)


def test_sender_rejection_refunds() -> None:
    state, _ = start_transfer(ID, expires_at=EXP)
    state, effects = sender_step(state, AnswerReceived(ID, "rejected", "expired"))
    assert (state.status, state.reason) == (SenderStatus.REJECTED, "expired")
    assert effects == (RefundEscrow("expired"),)


def test_delivery_failures_retry_until_final() -> None:
    state, _ = start_transfer(ID, expires_at=EXP)
    assert sender_step(state, DeliveryFailed(5)) == (state, (ScheduleRetry(),))
    state, _ = sender_step(state, AnswerReceived(ID, "accepted"))
    assert sender_step(state, DeliveryFailed(6)) == (state, ())


def test_a_contradicting_answer_is_reported_never_applied() -> None:
    state, _ = start_transfer(ID, expires_at=EXP)
    state, _ = sender_step(state, AnswerReceived(ID, "accepted"))
    assert sender_step(state, AnswerReceived(ID, "accepted")) == (state, ())
    same, effects = sender_step(state, AnswerReceived(ID, "rejected", "policy"))
    assert same == state
    assert effects == (ReportConflict("rejected", "policy"),)


def test_sender_refuses_misrouted_or_reasonless_answers() -> None:
    state, _ = start_transfer(ID, expires_at=EXP)
    with pytest.raises(ValueError):
        sender_step(state, AnswerReceived("someone-else-00000", "accepted"))
    with pytest.raises(ValueError):
        sender_step(state, AnswerReceived(ID, "rejected"))


# -- the simulation ------------------------------------------------------------------


@dataclass
class World:
    """One transfer between two nodes over a network that loses, duplicates and
    reorders; each node has its own clock."""

    expires_at: int
    sender_clock: int = 0
    receiver_clock: int = 0
    answers: list[tuple[Any, Any]] = field(default_factory=list)
    effects: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sender, effects = start_transfer(ID, expires_at=self.expires_at)
        self.receiver = receive_transfer(ID, expires_at=self.expires_at)
        self.effects.extend(effects)

    def deliver_request(self, delay: int, decision: AcceptTransfer | RejectTransfer) -> None:
        self.receiver_clock += delay
        before = self.receiver
        self.receiver, effects = receiver_step(
            self.receiver, Delivered(self.receiver_clock, decision)
        )
        if before.final:
            assert self.receiver == before  # a decision is never revised
        self.effects.extend(effects)
        self.answers.extend((e.outcome, e.reason) for e in effects if isinstance(e, SendAnswer))

    def deliver_answer(self, index: int) -> None:
        if self.answers:  # answers stay in the network: any of them may come again
            outcome, reason = self.answers[index % len(self.answers)]
            self.sender, effects = sender_step(self.sender, AnswerReceived(ID, outcome, reason))
            self.effects.extend(effects)

    def tick(self, delay: int) -> None:
        self.sender_clock += delay
        self.sender, effects = sender_step(self.sender, ClockTick(self.sender_clock))
        self.effects.extend(effects)

    def fail(self) -> None:
        self.sender, effects = sender_step(self.sender, DeliveryFailed(self.sender_clock))
        self.effects.extend(effects)

    def count(self, kind: type) -> int:
        return sum(isinstance(e, kind) for e in self.effects)

    def check(self) -> None:
        assert self.count(ReportConflict) == 0
        assert self.count(ApplyCredit) <= 1
        assert self.count(ReleaseEscrow) + self.count(RefundEscrow) <= 1
        if self.sender.final:
            assert self.receiver.final
            assert self.sender.status.value == self.receiver.status.value
            assert self.sender.reason == self.receiver.reason
        if self.receiver.status is ReceiverStatus.ACCEPTED:
            assert self.count(ApplyCredit) == 1


decisions = st.sampled_from(
    [AcceptTransfer(), RejectTransfer("policy"), RejectTransfer("consent_missing")]
)
actions = st.lists(
    st.one_of(
        st.tuples(st.just("request"), st.integers(0, 400), decisions),
        st.tuples(st.just("answer"), st.integers(0, 50)),
        st.tuples(st.just("tick"), st.integers(0, 400)),
        st.tuples(st.just("fail")),
    ),
    max_size=40,
)


@settings(max_examples=500)
@given(
    actions=actions,
    expires_at=st.integers(1, 2000),
    skew=st.integers(-500, 500),
    final_decision=decisions,
)
def test_no_interleaving_ends_in_disagreement(
    actions: list[tuple[Any, ...]],
    expires_at: int,
    skew: int,
    final_decision: AcceptTransfer | RejectTransfer,
) -> None:
    world = World(expires_at=expires_at, receiver_clock=max(0, skew))
    for action in actions:
        if action[0] == "request":
            world.deliver_request(action[1], action[2])
        elif action[0] == "answer":
            world.deliver_answer(action[1])
        elif action[0] == "tick":
            world.tick(action[1])
        else:
            world.fail()
        world.check()
    # Eventually the network works: the sender redelivers and hears back.
    world.deliver_request(1, final_decision)
    world.deliver_answer(len(world.answers) - 1)
    world.check()
    assert world.sender.final and world.receiver.final
    if world.sender.status is SenderStatus.ACCEPTED:
        assert world.count(ReleaseEscrow) == 1 and world.count(ApplyCredit) == 1
    else:
        assert world.count(RefundEscrow) == 1 and world.count(ApplyCredit) == 0


@settings(max_examples=200)
@given(actions=actions, expires_at=st.integers(1, 2000))
def test_a_late_first_delivery_is_always_rejected(
    actions: list[tuple[Any, ...]], expires_at: int
) -> None:
    world = World(expires_at=expires_at)
    for action in actions:
        if action[0] == "request":
            first = not world.receiver.final
            world.deliver_request(action[1], AcceptTransfer())
            if first and world.receiver_clock >= expires_at:
                assert world.receiver.reason == "expired"
            if first and world.receiver_clock < expires_at:
                assert world.receiver.status is ReceiverStatus.ACCEPTED
