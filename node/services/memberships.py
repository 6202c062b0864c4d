"""Paid (VIP) memberships: payments that start and renew, grace, lapse, cancel, resume.

Plans are in the program (node.program.membership: fee, interval, earn
multiplier, flags, grace, refund rule). A member's membership is one row in
``membership`` with its history in ``membership_change`` and the money in
``membership_payment`` (fees paid outside Konsort, recorded with their
reference; refunds as negative amounts). Points are never involved.

Life of a membership (docs/program.md, "Paid membership"):

- A fee payment for a member without a live membership **starts** one: a
  period from now (``membership.started``). A payment while it is active or
  in grace **renews** it: the next period starts where the last one ends, so
  paying late in the grace period does not move the cycle.
- Before a period ends the node sends ``membership.renewal_due``
  (``renewal_notice_days`` ahead, once per period).
- A period that ends unpaid goes to **grace** for ``grace_days``; benefits
  continue in grace. Then the membership is **lapsed** (``membership.lapsed``).
- **Cancel** at period end (benefits until then; ``resume`` undoes it before
  the period ends) or at once, with the plan's refund rule
  (``membership.cancelled`` either way, once, when asked).

States are derived from the clock on every read and purchase
(node.program.membership.state_at), so benefits are right to the second; the
``memberships`` job writes the transitions down (history and events), once:
each transition is a conditional update of the row.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from node.clock import isoformat
from node.db import Database
from node.errors import Conflict, ValidationFailed
from node.program.config import Program
from node.program.membership import (
    ACTIVE,
    BENEFIT_STATES,
    CANCELLED,
    GRACE,
    LAPSED,
    MembershipPlan,
    MembershipTimes,
    add_interval,
    benefits_until,
    pro_rata_refund,
    state_at,
)
from node.services import events
from node.services.customers import require_active_txn
from node.services.idempotency import Answer, Unit, idempotent_unit
from node.services.program import program_at_txn
from node.settings import Settings
from node.store import membership as store
from node.store.membership import MembershipRow

NONE = "none"


def _times(row: MembershipRow) -> MembershipTimes:
    return MembershipTimes(row.state, row.period_end, row.cancel_at_period_end)


def _grace_days(program: Program, plan: str) -> int:
    found = program.membership.plan(plan)
    return found.grace_days if found is not None else 0


def current_state(row: MembershipRow | None, program: Program, moment: datetime) -> str:
    """The membership's state at ``moment``; ``none`` without one."""
    if row is None:
        return NONE
    return state_at(_times(row), grace_days=_grace_days(program, row.plan), moment=moment)


# -- what other parts ask --------------------------------------------------------


def plan_for_purchase_txn(
    *, session: Session, program: Program, customer_id: str, moment: datetime
) -> MembershipPlan | None:
    """The paid plan whose benefits the member holds at ``moment``, if any.

    One primary-key lookup, and none at all when the program has no plans.
    """
    if not program.membership.plans:
        return None
    row = store.membership(session=session, customer_id=customer_id)
    return plan_held(program, row, moment)


def plan_held(
    program: Program, row: MembershipRow | None, moment: datetime
) -> MembershipPlan | None:
    """:func:`plan_for_purchase_txn` with the member's membership row already read."""
    if row is None or moment < row.started_at or not program.membership.plans:
        return None
    if current_state(row, program, moment) not in BENEFIT_STATES:
        return None
    return program.membership.plan(row.plan)


def holds_plan_txn(
    *, session: Session, program: Program, customer_id: str, plans: list[str], now: datetime
) -> bool:
    """True when the member holds one of ``plans`` (active or in grace) at ``now``."""
    held = plan_for_purchase_txn(
        session=session, program=program, customer_id=customer_id, moment=now
    )
    return held is not None and held.code in plans


# -- writing transitions down ------------------------------------------------------


def _settle_txn(
    *, session: Session, program: Program, row: MembershipRow, now: datetime
) -> MembershipRow:
    """Write down the transitions the clock has made since the row was written."""
    target = current_state(row, program, now)
    if target == row.state:
        return row
    steps = [GRACE, LAPSED] if target == LAPSED and row.state == ACTIVE else [target]
    for step in steps:
        store.insert_change(
            session=session,
            customer_id=row.customer_id,
            plan=row.plan,
            change=step,
            period_start=row.period_start,
            period_end=row.period_end,
            amount=None,
            now=now,
        )
    if target == LAPSED:
        events.record_event_txn(
            session=session,
            type="membership.lapsed",
            payload={
                "customer_id": row.customer_id,
                "plan": row.plan,
                "period_end": isoformat(row.period_end),
            },
            now=now,
        )
    settled = replace(row, state=target)
    store.save_membership(session=session, row=settled, now=now, exists=True)
    return settled


def _notify_renewal_txn(
    *, session: Session, program: Program, row: MembershipRow, currency: str, now: datetime
) -> bool:
    plan = program.membership.plan(row.plan)
    if (
        plan is None
        or row.state != ACTIVE
        or row.cancel_at_period_end
        or row.renewal_notice_for == row.period_end
        or now < row.period_end - timedelta(days=plan.renewal_notice_days)
    ):
        return False
    store.save_membership(
        session=session, row=replace(row, renewal_notice_for=row.period_end), now=now, exists=True
    )
    events.record_event_txn(
        session=session,
        type="membership.renewal_due",
        payload={
            "customer_id": row.customer_id,
            "plan": row.plan,
            "period_end": isoformat(row.period_end),
            "fee": plan.fee,
            "currency": currency,
        },
        now=now,
    )
    return True


@dataclass(frozen=True)
class MembershipReport:
    notices: int
    moved: int


def advance_memberships(
    db: Database, settings: Settings, *, now: datetime, batch_size: int = 200
) -> MembershipReport:
    """The job: renewal notices, grace, lapses and period-end cancellations, once each."""
    notices = moved = 0
    after = ""
    while True:

        def unit(session: Session, cursor: str = after) -> tuple[int, int, str, int]:
            program = program_at_txn(session=session, settings=settings, moment=now).program
            horizon = max((p.renewal_notice_days for p in program.membership.plans), default=0)
            rows = store.due_memberships(
                session=session,
                before=now + timedelta(days=horizon) + timedelta(microseconds=1),
                after_customer=cursor,
                limit=batch_size,
            )
            sent = changed = 0
            for row in rows:
                locked = store.lock_membership(session=session, customer_id=row.customer_id)
                if locked is None:
                    continue
                settled = _settle_txn(session=session, program=program, row=locked, now=now)
                changed += settled.state != locked.state
                sent += _notify_renewal_txn(
                    session=session,
                    program=program,
                    row=settled,
                    currency=settings.currency,
                    now=now,
                )
            last = rows[-1].customer_id if rows else cursor
            return sent, changed, last, len(rows)

        sent, changed, after, seen = db.write(unit)
        notices += sent
        moved += changed
        if seen < batch_size:
            return MembershipReport(notices, moved)


# -- the operator API ----------------------------------------------------------------


def membership_json(
    row: MembershipRow | None,
    program: Program,
    now: datetime,
    history: list[store.ChangeRow] | None = None,
) -> dict[str, Any]:
    state = current_state(row, program, now)
    body: dict[str, Any] = {"state": state, "benefits": state in BENEFIT_STATES}
    plan = program.membership.plan(row.plan) if row is not None else None
    if row is not None:
        body.update(
            plan=row.plan,
            started_at=isoformat(row.started_at),
            period_start=isoformat(row.period_start),
            period_end=isoformat(row.period_end),
            cancel_at_period_end=row.cancel_at_period_end,
            benefits_until=isoformat(
                benefits_until(_times(row), grace_days=_grace_days(program, row.plan))
            )
            if state in BENEFIT_STATES
            else None,
        )
    else:
        body.update(
            plan=None,
            started_at=None,
            period_start=None,
            period_end=None,
            cancel_at_period_end=False,
            benefits_until=None,
        )
    held = plan is not None and state in BENEFIT_STATES
    body["earn_multiplier_percent"] = plan.earn_multiplier_percent if held and plan else 100
    body["flags"] = list(plan.flags) if held and plan else []
    if history is not None:
        body["history"] = [
            {
                "change": change.change,
                "plan": change.plan,
                "period_start": isoformat(change.period_start),
                "period_end": isoformat(change.period_end),
                "amount": change.amount,
                "at": isoformat(change.created_at),
            }
            for change in history
        ]
    return body


def membership_status(
    db: Database, settings: Settings, *, customer_id: str, now: datetime
) -> dict[str, Any]:
    """What the till reads: state, period, benefits (multiplier and flags), history."""
    with db.read() as session:
        require_active_txn(session=session, customer_id=customer_id)
        program = program_at_txn(session=session, settings=settings, moment=now).program
        row = store.membership(session=session, customer_id=customer_id)
        history = store.changes(session=session, customer_id=customer_id)
    return {"customer_id": customer_id, **membership_json(row, program, now, history)}


def _answer(
    session: Session, program: Program, customer_id: str, now: datetime, **extra: Any
) -> Answer:
    row = store.membership(session=session, customer_id=customer_id)
    return Answer(201, {"customer_id": customer_id, **membership_json(row, program, now), **extra})


def membership_payment_unit(
    settings: Settings,
    *,
    customer_id: str,
    plan: str,
    amount: int,
    currency: str,
    reference: str | None,
    period: datetime | None,
    idempotency_key: str,
    now: datetime,
) -> Unit:
    """Record a fee paid outside Konsort: it starts a membership or renews it.

    ``period``, when given, is the start of the period the payment is for; a
    payment for any other period (one already paid, say) is refused with 409
    ``period_mismatch``.
    """
    if currency != settings.currency:
        raise ValidationFailed(f"this node takes fees in {settings.currency}", field="currency")

    def work(session: Session) -> Answer:
        require_active_txn(session=session, customer_id=customer_id)
        program = program_at_txn(session=session, settings=settings, moment=now).program
        chosen = program.membership.plan(plan)
        if chosen is None:
            raise ValidationFailed(
                "the program has no membership plan with this code",
                field="plan",
                code="plan_unknown",
            )
        if amount != chosen.fee:
            raise ValidationFailed(
                f"the plan's fee is {chosen.fee}", field="amount", code="fee_mismatch"
            )
        row = store.lock_membership(session=session, customer_id=customer_id)
        if row is not None:
            row = _settle_txn(session=session, program=program, row=row, now=now)
        live = row is not None and row.state in BENEFIT_STATES
        if live and row is not None and row.plan != plan:
            raise Conflict(
                "the member holds another plan: cancel it at once, then pay for the new one",
                field="plan",
                code="plan_change",
            )
        start = row.period_end if live and row is not None else now
        if period is not None and period != start:
            raise Conflict(
                f"the next period to pay for starts at {isoformat(start)}",
                field="period",
                code="period_mismatch",
            )
        end = add_interval(start, chosen.interval)
        change = "renewed" if live else "started"
        updated = MembershipRow(
            customer_id=customer_id,
            plan=plan,
            state=ACTIVE,
            started_at=row.started_at if live and row is not None else now,
            period_start=start,
            period_end=end,
            cancel_at_period_end=False,
            renewal_notice_for=row.renewal_notice_for if live and row is not None else None,
        )
        store.save_membership(session=session, row=updated, now=now, exists=row is not None)
        store.insert_change(
            session=session,
            customer_id=customer_id,
            plan=plan,
            change=change,
            period_start=start,
            period_end=end,
            amount=amount,
            now=now,
        )
        store.insert_payment(
            session=session,
            customer_id=customer_id,
            plan=plan,
            amount=amount,
            currency=currency,
            reference=reference,
            period_start=start,
            period_end=end,
            now=now,
        )
        if not live:
            events.record_event_txn(
                session=session,
                type="membership.started",
                payload={
                    "customer_id": customer_id,
                    "plan": plan,
                    "period_start": isoformat(start),
                    "period_end": isoformat(end),
                },
                now=now,
            )
        return _answer(session, program, customer_id, now, paid=change)

    return idempotent_unit(
        key=idempotency_key,
        operation="membership-payment",
        request={
            "customer_id": customer_id,
            "plan": plan,
            "amount": amount,
            "currency": currency,
            "reference": reference,
            "period": isoformat(period) if period else None,
        },
        now=now,
        work=work,
    )


def _live_row_txn(
    *, session: Session, program: Program, customer_id: str, now: datetime
) -> MembershipRow:
    require_active_txn(session=session, customer_id=customer_id)
    row = store.lock_membership(session=session, customer_id=customer_id)
    if row is not None:
        row = _settle_txn(session=session, program=program, row=row, now=now)
    if row is None or row.state not in BENEFIT_STATES:
        raise Conflict("the member has no active paid membership", code="membership_not_active")
    return row


def cancel_membership_unit(
    settings: Settings,
    *,
    customer_id: str,
    at_once: bool,
    idempotency_key: str,
    now: datetime,
) -> Unit:
    """Cancel at period end (benefits until then) or at once (with the plan's refund)."""

    def work(session: Session) -> Answer:
        program = program_at_txn(session=session, settings=settings, moment=now).program
        row = _live_row_txn(session=session, program=program, customer_id=customer_id, now=now)
        if row.cancel_at_period_end and not at_once:
            raise Conflict(
                "the membership is already cancelled at period end",
                code="membership_cancel_pending",
            )
        plan = program.membership.plan(row.plan)
        refund = 0
        immediate = at_once or row.state == GRACE
        if immediate and plan is not None and plan.refund == "pro_rata":
            paid = store.paid_periods_after(
                session=session, customer_id=customer_id, since=row.started_at, ending_after=now
            )
            refund = sum(
                pro_rata_refund(paid=fee, period_start=start, period_end=end, at=now)
                for fee, start, end in paid
            )
        effective = now if immediate else row.period_end
        updated = replace(row, state=CANCELLED) if immediate else row
        updated = replace(updated, cancel_at_period_end=not immediate)
        store.save_membership(session=session, row=updated, now=now, exists=True)
        store.insert_change(
            session=session,
            customer_id=customer_id,
            plan=row.plan,
            change=CANCELLED if immediate else "cancel_requested",
            period_start=row.period_start,
            period_end=row.period_end,
            amount=-refund if refund else None,
            now=now,
        )
        if refund:
            store.insert_payment(
                session=session,
                customer_id=customer_id,
                plan=row.plan,
                amount=-refund,
                currency=settings.currency,
                reference=None,
                period_start=row.period_start,
                period_end=row.period_end,
                now=now,
            )
        events.record_event_txn(
            session=session,
            type="membership.cancelled",
            payload={
                "customer_id": customer_id,
                "plan": row.plan,
                "effective_at": isoformat(effective),
                "refund": refund,
                "currency": settings.currency,
            },
            now=now,
        )
        return _answer(
            session, program, customer_id, now, effective_at=isoformat(effective), refund=refund
        )

    return idempotent_unit(
        key=idempotency_key,
        operation="membership-cancel",
        request={"customer_id": customer_id, "at_once": at_once},
        now=now,
        work=work,
    )


def resume_membership_unit(
    settings: Settings, *, customer_id: str, idempotency_key: str, now: datetime
) -> Unit:
    """Undo a cancel at period end, before the period ends."""

    def work(session: Session) -> Answer:
        program = program_at_txn(session=session, settings=settings, moment=now).program
        row = _live_row_txn(session=session, program=program, customer_id=customer_id, now=now)
        if not row.cancel_at_period_end or row.state != ACTIVE:
            raise Conflict(
                "only a membership cancelled at period end can resume, before that end",
                code="membership_not_resumable",
            )
        store.save_membership(
            session=session, row=replace(row, cancel_at_period_end=False), now=now, exists=True
        )
        store.insert_change(
            session=session,
            customer_id=customer_id,
            plan=row.plan,
            change="resumed",
            period_start=row.period_start,
            period_end=row.period_end,
            amount=None,
            now=now,
        )
        return _answer(session, program, customer_id, now)

    return idempotent_unit(
        key=idempotency_key,
        operation="membership-resume",
        request={"customer_id": customer_id},
        now=now,
        work=work,
    )
