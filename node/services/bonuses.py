"""Bonuses paid once: on enrolment, on a birthday each year, and for referrals.

- Enrolment bonus: ``bonuses.enrolment_points`` when a member enrols.
- Birthday reward: ``bonuses.birthday_points`` once per calendar year, paid by
  the daily job during the member's birth month (UTC), to members who gave a
  birthday. To find whose month it is without decrypting every profile, the
  node keeps only a keyed digest of the birth month (never the date) in
  ``birthday_index``; it goes with the member on erasure.
- Referral: a member enrolled with ``referred_by`` earns the referrer
  ``referrer_points`` and themselves ``referred_points``, once each, when
  they make their first purchase.

Each award is a row in ``bonus_award`` keyed by (member, kind, period), so a
job run twice or a replayed request never pays twice.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from node.db import Database
from node.errors import NotFound, ValidationFailed
from node.program.config import Program
from node.secrets import NodeSecrets
from node.services import ledger
from node.services.program import program_at_txn
from node.settings import Settings
from node.store import bonuses as store
from node.store import customers as customer_store

BONUS = "bonus"


def birth_month_digest(secrets: NodeSecrets, month: int) -> str:
    return hmac.new(secrets.lookup_key, f"birth-month:{month}".encode(), hashlib.sha256).hexdigest()


def award_txn(
    *,
    session: Session,
    program: Program,
    customer_id: str,
    kind: str,
    period: str,
    points: int,
    now: datetime,
    actor: str | None = None,
) -> bool:
    """Pay a once-only bonus; False when it was already paid (or is zero)."""
    if points <= 0 or store.bonus_awarded(
        session=session, customer_id=customer_id, kind=kind, period=period
    ):
        return False
    posted = ledger.credit_points_txn(
        session=session,
        customer_id=customer_id,
        points=points,
        kind=BONUS,
        source_account=ledger.ISSUED,
        idempotency_key=None,
        reference=kind,
        now=now,
        expiry_days=program.expiry.days,
        actor=actor or "system",
    )
    store.insert_award(
        session=session,
        customer_id=customer_id,
        kind=kind,
        period=period,
        points=points,
        transaction_id=posted.id,
        now=now,
    )
    return True


def record_referral_txn(
    *, session: Session, referred_id: str, referrer_id: str, now: datetime
) -> None:
    found = customer_store.customer_status(session=session, customer_id=referrer_id)
    if found is None or found[0] != "active":
        raise NotFound("no such customer to credit the referral to", field="referred_by")
    if referrer_id == referred_id:
        raise ValidationFailed("a member cannot refer themselves", field="referred_by")
    store.insert_referral(
        session=session, referred_id=referred_id, referrer_id=referrer_id, now=now
    )


def reward_referral_txn(
    *, session: Session, program: Program, customer_id: str, now: datetime
) -> bool:
    """After a referred member's first purchase, pay both sides once."""
    bonuses = program.bonuses
    if not (bonuses.referrer_points or bonuses.referred_points):
        return False
    referrer = store.pending_referrer(session=session, referred_id=customer_id)
    if referrer is None or not store.mark_referral_rewarded(
        session=session, referred_id=customer_id, now=now
    ):
        return False
    award_txn(
        session=session,
        program=program,
        customer_id=customer_id,
        kind="referred",
        period="",
        points=bonuses.referred_points,
        now=now,
    )
    status = customer_store.customer_status(session=session, customer_id=referrer)
    if status is not None and status[0] == "active":
        award_txn(
            session=session,
            program=program,
            customer_id=referrer,
            kind="referrer",
            period=customer_id,
            points=bonuses.referrer_points,
            now=now,
        )
    return True


@dataclass(frozen=True)
class BirthdayReport:
    members: int
    points: int


def award_birthday_bonuses(
    db: Database, settings: Settings, secrets: NodeSecrets, *, now: datetime, batch_size: int = 200
) -> BirthdayReport:
    """Pay this year's birthday bonus to members whose birth month it is."""
    digest = birth_month_digest(secrets, now.month)
    period = str(now.year)
    members = points = 0
    while True:

        def unit(session: Session) -> tuple[int, int]:
            program = program_at_txn(session=session, settings=settings, moment=now).program
            amount = program.bonuses.birthday_points
            if amount <= 0:
                return 0, 0
            due = store.birthdays_without_award(
                session=session, month_digest=digest, period=period, limit=batch_size
            )
            paid = 0
            for customer_id in due:
                if award_txn(
                    session=session,
                    program=program,
                    customer_id=customer_id,
                    kind="birthday",
                    period=period,
                    points=amount,
                    now=now,
                ):
                    paid += 1
            return paid, paid * amount

        paid, total = db.write(unit)
        members += paid
        points += total
        if paid < batch_size:
            return BirthdayReport(members, points)
