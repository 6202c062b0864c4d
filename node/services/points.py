"""What the till does: earn on a purchase, redeem points, read balance and history.

Earning follows the program in force (node.program.earning has the rules).

Each write runs through node.services.idempotency, so a till that retries
(after a timeout, say) never earns or redeems twice.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from node.clock import isoformat
from node.db import Database
from node.errors import RequestError, ValidationFailed
from node.program.config import Program
from node.program.earning import Line, compute_earning
from node.services import bonuses, challenges, ledger, memberships, offers, store_credit, tiers
from node.services.customers import require_active_txn
from node.services.idempotency import Answer, Unit, idempotent_unit, run_idempotent
from node.services.program import program_at_txn
from node.settings import Settings
from node.store import ledger as ledger_store
from node.store import purchases as purchase_store
from node.store import standing as standing_store

#: How far back a till may date a purchase it sends late (offline tills).
MAX_PURCHASE_AGE = timedelta(days=90)
#: Clock skew tolerated for a purchase dated "now" by the till.
MAX_CLOCK_SKEW = timedelta(minutes=5)


def _transaction_json(posted: ledger.PostedTransaction, reference: str | None) -> dict[str, Any]:
    return {
        "id": posted.public_id,
        "kind": posted.kind,
        "points": posted.points,
        "reference": reference,
        "created_at": isoformat(posted.created_at),
    }


def record_purchase(db: Database, settings: Settings, **request: Any) -> Answer:
    """Earn under the program for one purchase, once per Idempotency-Key."""
    return run_idempotent(db, purchase_unit(settings, **request))


def _check_purchase(
    settings: Settings,
    *,
    amount: int,
    currency: str,
    lines: Sequence[Line] | None,
    occurred_at: datetime | None,
    now: datetime,
) -> None:
    if currency != settings.currency:
        raise ValidationFailed(
            f"this node takes purchases in {settings.currency}", field="currency"
        )
    if lines is not None and sum(line.amount for line in lines) != amount:
        raise ValidationFailed("the lines must add up to the amount", field="lines")
    if occurred_at is not None:
        if occurred_at > now + MAX_CLOCK_SKEW:
            raise ValidationFailed("a purchase cannot happen in the future", field="occurred_at")
        if occurred_at < now - MAX_PURCHASE_AGE:
            raise ValidationFailed(
                "purchases older than 90 days cannot earn points", field="occurred_at"
            )


def _standing_txn(
    session: Session,
    program: Program,
    *,
    customer_id: str,
    now: datetime,
    challenge_steps: Sequence[tuple[str, int]] = (),
) -> standing_store.Standing:
    """The tier, the paid plan, the pending offers, the tier's qualifying figure and
    the points account before this purchase, in one read, and the purchase's steps
    added to the challenges: what the program needs (the earn hot path)."""
    levels = program.tiers.levels
    return standing_store.member_standing(
        session=session,
        customer_id=customer_id,
        challenge_steps=challenge_steps,
        now=now,
        tier=bool(levels),
        membership=bool(program.membership.plans),
        offers_at=now if offers.after_purchase_rules(program) else None,
        account_at=now,
        qualifying=(
            standing_store.Qualifying(
                program.tiers.basis, tiers.qualifying_since(program.tiers, now), levels[-1].code
            )
            if levels
            else None
        ),
    )


def purchase_unit(
    settings: Settings,
    *,
    customer_id: str,
    amount: int,
    currency: str,
    order_ref: str | None,
    idempotency_key: str,
    now: datetime,
    actor: str | None = None,
    lines: Sequence[Line] | None = None,
    occurred_at: datetime | None = None,
) -> Unit:
    """Earn for a purchase with the program in force when it happened.

    Campaigns, category multipliers and the earn rate come from the program
    version in force at ``occurred_at`` (default: now); the member's tier is
    the one held when paying. Then cashback, a tier upgrade and a pending
    referral bonus follow in the same transaction.
    """
    _check_purchase(
        settings, amount=amount, currency=currency, lines=lines, occurred_at=occurred_at, now=now
    )
    moment = occurred_at or now
    request: dict[str, Any] = {
        "customer_id": customer_id,
        "amount": amount,
        "currency": currency,
        "order_ref": order_ref,
    }
    if lines is not None:
        # A line's product joins its entry only when given: older digests stay as they were.
        request["lines"] = [
            [line.category, line.amount, line.product]
            if line.product is not None
            else [line.category, line.amount]
            for line in lines
        ]
    if occurred_at is not None:
        request["occurred_at"] = isoformat(occurred_at)
    basket = list(lines) if lines is not None else [Line(amount)]

    def work(session: Session) -> Answer:
        in_force = program_at_txn(session=session, settings=settings, moment=moment)
        program = in_force.program
        counted = (
            challenges.purchase_steps_txn(
                session=session,
                program=program,
                customer_id=customer_id,
                lines=basket,
                moment=moment,
            )
            if program.challenges
            else []
        )
        standing = _standing_txn(
            session,
            program,
            customer_id=customer_id,
            now=now,
            challenge_steps=[(challenge.code, step) for challenge, step in counted],
        )
        tier, held = tiers.tiers_held_txn(
            session=session,
            program=program,
            customer_id=customer_id,
            row=standing.tier,
            moment=moment,
        )
        paid_plan = memberships.plan_held(program, standing.membership, moment)
        earning = compute_earning(
            program,
            lines=basket,
            moment=moment,
            tier=held,
            currency_exponent=settings.currency_exponent,
            plan_percent=paid_plan.earn_multiplier_percent if paid_plan else None,
            stack_plan=program.membership.stack_with_tiers,
        )
        posted = ledger.credit_points_txn(
            session=session,
            customer_id=customer_id,
            points=earning.points,
            kind="earn",
            source_account=ledger.ISSUED,
            idempotency_key=f"api:{idempotency_key}",
            reference=order_ref,
            now=now,
            expiry_days=program.expiry.days,
            actor=actor,
            state=standing.account,
        )
        purchase_id = purchase_store.insert_purchase(
            session=session,
            customer_id=customer_id,
            transaction_id=posted.id,
            order_ref=order_ref,
            amount=amount,
            currency=currency,
            points=earning.points,
            occurred_at=moment,
            program_version=in_force.version,
            cashback=earning.cashback,
        )
        if lines is not None:
            purchase_store.insert_lines(
                session=session,
                purchase_id=purchase_id,
                lines=[(line.category or "", line.amount, line.product) for line in lines],
            )
        if earning.cashback:
            store_credit.give_cashback_txn(
                session=session,
                customer_id=customer_id,
                amount=earning.cashback,
                currency=currency,
                reference=order_ref,
                now=now,
                actor=actor,
            )
        upgraded = tiers.upgrade_after_purchase_txn(
            session=session,
            program=program,
            version=in_force.version,
            customer_id=customer_id,
            current=tier,
            now=now,
            value=tiers.value_after_purchase(
                program.tiers,
                before=standing.qualifying,
                amount=amount,
                points=earning.points,
                moment=moment,
                now=now,
            ),
        )
        balance = posted.balance
        completed = challenges.pay_reached_txn(
            session=session,
            program=program,
            customer_id=customer_id,
            counted=counted,
            reached=standing.challenges,
            now=now,
        )
        referred = bonuses.reward_referral_txn(
            session=session, program=program, customer_id=customer_id, now=now
        )
        offered = offers.evaluate_after_purchase_txn(
            session=session,
            settings=settings,
            program=program,
            version=in_force.version,
            customer_id=customer_id,
            now=now,
            pending=standing.pending_rules,
        )
        if completed or referred:
            found = ledger_store.customer_account(session=session, customer_id=customer_id)
            balance = found[1] if found else balance
        earning_json: dict[str, Any] = {
            "program_version": in_force.version,
            "base_points": earning.base_points,
            "points": earning.points,
            "tier": held,
            "tier_percent": earning.tier_percent,
            "campaigns": list(earning.campaigns),
            "cashback": earning.cashback,
            "new_tier": upgraded,
        }
        if paid_plan is not None:
            earning_json["membership"] = {
                "plan": paid_plan.code,
                "percent": paid_plan.earn_multiplier_percent,
            }
        if completed:
            earning_json["challenges_completed"] = completed
        if offered:
            earning_json["offers_issued"] = offered
        body = {
            "customer_id": customer_id,
            "transaction": _transaction_json(posted, order_ref),
            "purchase": {"amount": amount, "currency": currency, "order_ref": order_ref},
            "earning": earning_json,
            "balance": balance,
        }
        return Answer(201, body)

    return idempotent_unit(
        key=idempotency_key, operation="purchase", request=request, now=now, work=work
    )


def redeem_points(db: Database, **request: Any) -> Answer:
    """Spend points (oldest first), once per Idempotency-Key."""
    return run_idempotent(db, redemption_unit(**request))


def redemption_unit(
    *,
    customer_id: str,
    points: int,
    reference: str | None,
    idempotency_key: str,
    now: datetime,
    actor: str | None = None,
) -> Unit:
    request = {"customer_id": customer_id, "points": points, "reference": reference}

    def work(session: Session) -> Answer:
        posted = ledger.debit_points_txn(
            session=session,
            customer_id=customer_id,
            points=points,
            kind="redeem",
            target_account=ledger.REDEEMED,
            idempotency_key=f"api:{idempotency_key}",
            reference=reference,
            now=now,
            actor=actor,
        )
        body = {
            "customer_id": customer_id,
            "transaction": _transaction_json(posted, reference),
            "balance": posted.balance,
        }
        return Answer(201, body)

    return idempotent_unit(
        key=idempotency_key, operation="redemption", request=request, now=now, work=work
    )


@dataclass(frozen=True)
class HistoryPage:
    items: list[dict[str, Any]]
    next_cursor: str | None


def _encode_cursor(row_id: int) -> str:
    return base64.urlsafe_b64encode(f"before:{row_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = text.partition(":")
        if kind != "before":
            raise ValueError
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise RequestError("the cursor is not one this API returned", field="cursor") from None


def customer_history(
    db: Database, *, customer_id: str, limit: int, cursor: str | None
) -> HistoryPage:
    """A page of a customer's transactions, newest first."""
    before = _decode_cursor(cursor) if cursor else None
    with db.read() as session:
        require_active_txn(session=session, customer_id=customer_id)
        rows = ledger_store.customer_transactions(
            session=session, customer_id=customer_id, before_id=before, limit=limit + 1
        )
    more = len(rows) > limit
    rows = rows[:limit]
    items = [
        {
            "id": row.public_id,
            "kind": row.kind,
            "points": row.points,
            "reference": row.reference,
            "created_at": isoformat(row.created_at),
        }
        for row in rows
    ]
    return HistoryPage(items, _encode_cursor(rows[-1].id) if more and rows else None)
