"""Challenges: a goal over a period, tracked from purchases and actions, rewarded once.

A challenge (node.program.engagement.Challenge) counts what a member does
from ``starts_at`` up to ``ends_at`` (by the purchase's or action's time):

=============  ==============================================================
``visits``     purchases, one each (whatever the amount)
``categories`` distinct product categories in purchase lines
``actions``    reported actions of the challenge's ``action`` type
``spend``      purchase amounts, in minor units
=============  ==============================================================

Progress is one row per member and challenge (``challenge_progress``),
advanced in the same transaction as the purchase or action by one upsert
that also locks the row. Reaching ``target`` credits ``reward_points`` (a
``bonus`` transaction with its own expiry lot) and stamps ``completed_at``
with a conditional update, so a challenge pays once whatever is retried.
Refunds do not take progress back; a completed challenge's points stay.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session

from node.clock import isoformat
from node.db import Database
from node.program.config import Program
from node.program.earning import Line
from node.program.engagement import Challenge
from node.services import events, ledger
from node.services.customers import require_active_txn
from node.services.program import program_at_txn
from node.settings import Settings
from node.store import engagement as store

CHALLENGE_COMPLETED = "challenge.completed"


def _advance_txn(
    *,
    session: Session,
    program: Program,
    challenge: Challenge,
    customer_id: str,
    step: int,
    now: datetime,
) -> bool:
    """Add ``step``; True when this step completed the challenge (and paid it)."""
    progress, completed = store.add_progress(
        session=session, customer_id=customer_id, challenge=challenge.code, step=step, now=now
    )
    return _pay_if_reached_txn(
        session=session,
        program=program,
        challenge=challenge,
        customer_id=customer_id,
        progress=progress,
        completed=completed,
        now=now,
    )


def _pay_if_reached_txn(
    *,
    session: Session,
    program: Program,
    challenge: Challenge,
    customer_id: str,
    progress: int,
    completed: bool,
    now: datetime,
) -> bool:
    """Pay the reward once, when ``progress`` first reaches the target."""
    if completed or progress < challenge.target:
        return False
    posted = ledger.credit_points_txn(
        session=session,
        customer_id=customer_id,
        points=challenge.reward_points,
        kind="bonus",
        source_account=ledger.ISSUED,
        idempotency_key=None,
        reference=f"challenge:{challenge.code}",
        now=now,
        expiry_days=program.expiry.days,
        actor="system",
    )
    if not store.mark_completed(
        session=session,
        customer_id=customer_id,
        challenge=challenge.code,
        transaction_id=posted.id,
        now=now,
    ):  # pragma: no cover - the upsert's row lock makes this unreachable
        raise RuntimeError("challenge completed twice in one transaction")
    events.record_event_txn(
        session=session,
        type=CHALLENGE_COMPLETED,
        payload={
            "customer_id": customer_id,
            "challenge": challenge.code,
            "points": challenge.reward_points,
        },
        now=now,
    )
    return True


def purchase_steps_txn(
    *,
    session: Session,
    program: Program,
    customer_id: str,
    lines: Sequence[Line],
    moment: datetime,
) -> list[tuple[Challenge, int]]:
    """What a purchase adds to each running challenge it counts for (a categories
    challenge notes the purchase's new categories here); challenges it adds
    nothing to are left out. The steps are then added to the progress with the
    member's standing (node.store.standing), see :func:`pay_reached_txn`."""
    counted: list[tuple[Challenge, int]] = []
    for challenge in program.challenges:
        if challenge.goal == "actions" or not challenge.running_at(moment):
            continue
        if challenge.goal == "visits":
            step = 1
        elif challenge.goal == "spend":
            step = sum(line.amount for line in lines)
        else:
            step = sum(
                store.add_category(
                    session=session,
                    customer_id=customer_id,
                    challenge=challenge.code,
                    category=category,
                )
                for category in sorted({line.category for line in lines if line.category})
            )
        if step:
            counted.append((challenge, step))
    return counted


def pay_reached_txn(
    *,
    session: Session,
    program: Program,
    customer_id: str,
    counted: Sequence[tuple[Challenge, int]],
    reached: dict[str, tuple[int, bool]],
    now: datetime,
) -> list[str]:
    """Pay each counted challenge whose progress (``reached``: challenge ->
    (progress, completed), after the steps) first reached its target; their codes."""
    completed: list[str] = []
    for challenge, _ in counted:
        progress, done = reached[challenge.code]
        if _pay_if_reached_txn(
            session=session,
            program=program,
            challenge=challenge,
            customer_id=customer_id,
            progress=progress,
            completed=done,
            now=now,
        ):
            completed.append(challenge.code)
    return completed


def progress_action_txn(
    *,
    session: Session,
    program: Program,
    customer_id: str,
    action: str,
    moment: datetime,
    now: datetime,
) -> list[str]:
    """Advance the running challenges that count actions of type ``action``."""
    completed: list[str] = []
    for challenge in program.challenges:
        if (
            challenge.goal == "actions"
            and challenge.action == action
            and challenge.running_at(moment)
            and _advance_txn(
                session=session,
                program=program,
                challenge=challenge,
                customer_id=customer_id,
                step=1,
                now=now,
            )
        ):
            completed.append(challenge.code)
    return completed


def member_challenges(
    db: Database, settings: Settings, *, customer_id: str, now: datetime
) -> list[dict[str, Any]]:
    """The program's challenges with this member's progress on each."""
    with db.read() as session:
        require_active_txn(session=session, customer_id=customer_id)
        program = program_at_txn(session=session, settings=settings, moment=now).program
        progress = store.progress_of(session=session, customer_id=customer_id)
    items = []
    for challenge in program.challenges:
        done, completed_at = progress.get(challenge.code, (0, None))
        items.append(
            {
                "code": challenge.code,
                "name": challenge.name,
                "goal": challenge.goal,
                "action": challenge.action,
                "target": challenge.target,
                "starts_at": isoformat(challenge.starts_at),
                "ends_at": isoformat(challenge.ends_at),
                "running": challenge.running_at(now),
                "progress": min(done, challenge.target),
                "completed_at": isoformat(completed_at) if completed_at else None,
                "reward_points": challenge.reward_points,
            }
        )
    return items
