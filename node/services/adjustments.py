"""Manual point adjustments by staff: a ledger transaction like any other, with a reason.

A positive adjustment credits a new lot taken from ``program:issued`` (it
expires under the program in force, like earned points; a member in debt
repays it first); a negative one takes points back into ``program:issued``,
oldest lots first, and is refused when the balance does not cover it (a
balance never goes negative). Each runs once per idempotency key (the admin
UI's form carries one, so a double submit posts once), keeps the reason as
the transaction's reference, and records a ``points.adjust`` audit entry
(actor, customer id, points, the transaction id) in the same transaction.
The reason is free text typed by staff: it stays in the ledger and never
reaches the audit log, logs or protocol messages.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from node.clock import isoformat
from node.errors import ValidationFailed
from node.services import audit, ledger
from node.services.idempotency import Answer, Unit, idempotent_unit
from node.services.program import program_at_txn
from node.settings import Settings

KIND = "adjustment"
#: The largest change one adjustment may make, either way.
MAX_POINTS = 1_000_000
MAX_REASON = 200

audit.register_action("points.adjust", "staff adjusted a member's points by hand (detail: points)")


def check_adjustment(points: int, reason: str) -> str:
    """The reason, stripped; ValidationFailed naming the field that is wrong."""
    if type(points) is not int or points == 0 or abs(points) > MAX_POINTS:
        raise ValidationFailed(
            f"points must be a whole number from -{MAX_POINTS} to {MAX_POINTS}, not zero",
            field="points",
        )
    text = reason.strip()
    if not text:
        raise ValidationFailed("give a reason for the adjustment", field="reason")
    if len(text) > MAX_REASON:
        raise ValidationFailed(f"the reason is at most {MAX_REASON} characters", field="reason")
    return text


def adjustment_unit(
    settings: Settings,
    *,
    customer_id: str,
    points: int,
    reason: str,
    actor: str,
    idempotency_key: str,
    now: datetime,
    purpose: str = "customer_service",
) -> Unit:
    """Add (``points`` > 0) or take back (< 0) points once per key; answer 201."""
    text = check_adjustment(points, reason)

    def work(session: Session) -> Answer:
        if points > 0:
            program = program_at_txn(session=session, settings=settings, moment=now).program
            posted = ledger.credit_points_txn(
                session=session,
                customer_id=customer_id,
                points=points,
                kind=KIND,
                source_account=ledger.ISSUED,
                idempotency_key=f"adjust:{idempotency_key}",
                reference=text,
                now=now,
                expiry_days=program.expiry.days,
                actor=actor,
            )
        else:
            posted = ledger.debit_points_txn(
                session=session,
                customer_id=customer_id,
                points=-points,
                kind=KIND,
                target_account=ledger.ISSUED,
                idempotency_key=f"adjust:{idempotency_key}",
                reference=text,
                now=now,
                actor=actor,
            )
        audit.record_txn(
            session=session,
            actor=actor,
            action="points.adjust",
            customer_id=customer_id,
            purpose=purpose,
            now=now,
            detail={"points": points, "transaction": posted.public_id},
        )
        body = {
            "customer_id": customer_id,
            "transaction": {
                "id": posted.public_id,
                "kind": KIND,
                "points": points,
                "created_at": isoformat(now),
            },
            "balance": posted.balance,
        }
        return Answer(201, body)

    request = {"customer_id": customer_id, "points": points, "reason": text}
    return idempotent_unit(
        key=idempotency_key, operation="points.adjust", request=request, now=now, work=work
    )
