"""Engagement actions: points for what a member does besides buying.

The shop reports an action (a product review, a survey answered, a social
follow, an event attended) through the operator API with an
Idempotency-Key. The action type comes from the program in force when the
action happened (node.program.engagement.ActionType): its points, and a cap
per member per UTC calendar period. Over the cap the request is refused with
409 ``action_cap_reached`` and nothing is written.

The points are a ledger credit like a purchase's (kind ``action``, from
``program:issued``, with an expiry lot; owed points are repaid first), and
the action advances the challenges that count it (node.services.challenges),
all in one transaction. The member's account row is locked first, so two
actions at once cannot both slip under the cap.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from node.clock import isoformat
from node.errors import Conflict, ValidationFailed
from node.ids import new_id
from node.program.engagement import cap_period_key
from node.services import challenges, ledger
from node.services.customers import require_active_txn
from node.services.idempotency import Answer, Unit, idempotent_unit
from node.services.program import program_at_txn
from node.settings import Settings
from node.store import engagement as store
from node.store import ledger as ledger_store

ACTION_KIND = "action"
#: How far back an action may be dated, as for purchases.
MAX_ACTION_AGE = timedelta(days=90)
MAX_CLOCK_SKEW = timedelta(minutes=5)


def action_unit(
    settings: Settings,
    *,
    customer_id: str,
    action_type: str,
    occurred_at: datetime | None,
    reference: str | None,
    idempotency_key: str,
    now: datetime,
    actor: str | None = None,
) -> Unit:
    """Earn an action's points, once per Idempotency-Key and within the type's cap."""
    if occurred_at is not None:
        if occurred_at > now + MAX_CLOCK_SKEW:
            raise ValidationFailed("an action cannot happen in the future", field="occurred_at")
        if occurred_at < now - MAX_ACTION_AGE:
            raise ValidationFailed(
                "actions older than 90 days cannot earn points", field="occurred_at"
            )
    moment = occurred_at or now

    def work(session: Session) -> Answer:
        require_active_txn(session=session, customer_id=customer_id)
        program = program_at_txn(session=session, settings=settings, moment=moment).program
        kind = program.action(action_type)
        if kind is None:
            raise ValidationFailed(
                "the program has no action type with this code",
                field="type",
                code="action_unknown",
            )
        account_id = ledger.customer_account_id_txn(session=session, customer_id=customer_id)
        ledger_store.lock_account(session=session, account_id=account_id)
        period_key = cap_period_key(kind.cap_period, moment)
        if kind.cap is not None:
            done = store.count_actions(
                session=session,
                customer_id=customer_id,
                action_type=kind.code,
                period_key=period_key,
            )
            if done >= kind.cap:
                raise Conflict(
                    f"the member has had this action {kind.cap} times this {kind.cap_period}",
                    field="type",
                    code="action_cap_reached",
                )
        posted = ledger.credit_points_txn(
            session=session,
            customer_id=customer_id,
            points=kind.points,
            kind=ACTION_KIND,
            source_account=ledger.ISSUED,
            idempotency_key=f"api:{idempotency_key}",
            reference=kind.code,
            now=now,
            expiry_days=program.expiry.days,
            actor=actor,
        )
        public_id = new_id("act")
        store.insert_action(
            session=session,
            public_id=public_id,
            customer_id=customer_id,
            action_type=kind.code,
            period_key=period_key,
            occurred_at=moment,
            reference=reference,
            points=kind.points,
            transaction_id=posted.id,
            now=now,
        )
        completed = challenges.progress_action_txn(
            session=session,
            program=program,
            customer_id=customer_id,
            action=kind.code,
            moment=moment,
            now=now,
        )
        balance = posted.balance
        if completed:
            found = ledger_store.customer_account(session=session, customer_id=customer_id)
            balance = found[1] if found else balance
        body: dict[str, Any] = {
            "customer_id": customer_id,
            "action": {
                "id": public_id,
                "type": kind.code,
                "points": kind.points,
                "occurred_at": isoformat(moment),
                "reference": reference,
            },
            "transaction": {
                "id": posted.public_id,
                "kind": posted.kind,
                "points": posted.points,
                "reference": kind.code,
                "created_at": isoformat(posted.created_at),
            },
            "challenges_completed": completed,
            "balance": balance,
        }
        return Answer(201, body)

    return idempotent_unit(
        key=idempotency_key,
        operation="action",
        request={
            "customer_id": customer_id,
            "type": action_type,
            "occurred_at": isoformat(occurred_at) if occurred_at else None,
            "reference": reference,
        },
        now=now,
        work=work,
    )
