"""Personalised offers: issued under consent, explained, used once at the till.

- **Under consent, asked of the one guard.** Offers are computed only for a
  member who holds ``personalised_offers`` (node.services.consent), and for a
  rule that profiles (node.program.offers) also ``profiling``. Without them
  nothing is computed and nothing stored: the guard is asked before any fact
  is read. Restriction of processing stops offers the same way. A member who
  refuses still gets every ordinary benefit of the program.
- **Withdrawal removes pending offers at once**: an ``ON_WITHDRAWAL`` hook of
  both purposes (and so a restriction that starts) deletes the member's
  pending offers in the withdrawal's transaction. Used offers stay; they
  point at the ledger.
- **When.** After each purchase, in its transaction, for the rules a purchase
  can change (``category_count``, ``product_count``, ``spend_above``); by the
  program job for the rules time changes (``lapsed``, ``tier``,
  ``birthday_month``). A rule issues at most ``limit`` offers per member per
  ``limit_period`` (a unique key on the slot), and none while one of it is
  still pending.
- **Why.** ``facts`` keeps the rule as it was and the figures it used; the
  APIs render them as a sentence (node.program.offers.explain).
- **Use.** The till marks an offer used (Idempotency-Key): bonus points are
  credited once (the ledger key ``offer:<id>`` is unique), a reward's voucher
  is issued free (its points credited and redeemed in one transaction), a
  discount code is only recorded. A used or expired offer is refused with
  409 ``offer_used`` / ``offer_expired``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from node.clock import isoformat
from node.db import Database
from node.errors import Conflict, NotFound
from node.ids import new_id
from node.program.config import Program
from node.program.engagement import cap_period_key
from node.program.offers import (
    BirthdayMonth,
    CategoryCount,
    Lapsed,
    OfferRule,
    ProductCount,
    SpendAbove,
    TierHeld,
    explain,
    fires,
)
from node.secrets import NodeSecrets
from node.services import consent, events, ledger, rewards, tiers
from node.services.bonuses import birth_month_digest
from node.services.customers import require_active_txn
from node.services.idempotency import Answer, Unit, idempotent_unit
from node.services.program import program_at_txn
from node.settings import Settings
from node.store import ledger as ledger_store
from node.store import offers as store

OFFER_ISSUED = "offer.issued"
OFFER_KIND = "offer"


# -- evaluation -----------------------------------------------------------------------


def rule_facts_txn(
    *,
    session: Session,
    rule: OfferRule,
    customer_id: str,
    now: datetime,
    secrets: NodeSecrets | None = None,
) -> dict[str, Any]:
    """The figures of the member's own history that ``rule``'s condition needs."""
    condition = rule.condition
    if isinstance(condition, CategoryCount):
        since = now - timedelta(days=condition.within_days)
        count = store.category_purchases(
            session=session, customer_id=customer_id, category=condition.category, since=since
        )
        return {"count": count}
    if isinstance(condition, ProductCount):
        since = now - timedelta(days=condition.within_days)
        count = store.product_purchases(
            session=session, customer_id=customer_id, product=condition.product, since=since
        )
        return {"count": count}
    if isinstance(condition, SpendAbove):
        since = now - timedelta(days=condition.within_days)
        return {"spend": store.spend_since(session=session, customer_id=customer_id, since=since)}
    if isinstance(condition, Lapsed):
        last = store.last_purchase_at(session=session, customer_id=customer_id)
        return {"days_since_last_purchase": None if last is None else (now - last).days}
    if isinstance(condition, TierHeld):
        return {"tier": None}  # filled by the caller, which knows the program
    assert isinstance(condition, BirthdayMonth)
    born = secrets is not None and store.born_in_month(
        session=session,
        customer_id=customer_id,
        month_digest=birth_month_digest(secrets, now.month),
    )
    return {"birthday_month": born}


def evaluate_rules_txn(
    *,
    session: Session,
    settings: Settings,
    program: Program,
    version: int,
    rules: list[OfferRule],
    customer_id: str,
    now: datetime,
    secrets: NodeSecrets | None = None,
    pending: frozenset[str] | None = None,
) -> list[str]:
    """Issue the offers ``rules`` yield for the member now; the new offers' ids.

    Asks the consent guard first: without ``personalised_offers`` nothing is
    computed or written; a profiling rule also needs ``profiling``. Rules the
    member already holds a pending offer of (``pending``, read here unless the
    caller read it) are skipped before that (the common case on a busy till):
    pending offers exist only while the consent does, since a withdrawal or a
    restriction deletes them in its own transaction.
    """
    if rules:
        held = (
            pending
            if pending is not None
            else store.pending_rules(session=session, customer_id=customer_id, now=now)
        )
        rules = [rule for rule in rules if rule.code not in held]
    if not rules:
        return []
    wanted = [consent.PERSONALISED_OFFERS]
    if any(rule.is_profiling for rule in rules):
        wanted.append(consent.PROFILING)
    allowed = consent.allowed_purposes_txn(
        session=session, customer_id=customer_id, purposes=wanted
    )
    if consent.PERSONALISED_OFFERS not in allowed:
        return []
    issued: list[str] = []
    for rule in rules:
        if rule.is_profiling and consent.PROFILING not in allowed:
            continue
        period_key = (
            "ever" if rule.limit_period == "ever" else cap_period_key(rule.limit_period, now)
        )
        seq, waiting = store.issued_in_period(
            session=session, customer_id=customer_id, rule=rule.code, period_key=period_key, now=now
        )
        if waiting or seq >= rule.limit:
            continue
        observed = rule_facts_txn(
            session=session, rule=rule, customer_id=customer_id, now=now, secrets=secrets
        )
        if isinstance(rule.condition, TierHeld):
            observed["tier"] = tiers.tier_of_txn(
                session=session, program=program, customer_id=customer_id
            )
        if not fires(rule.condition, observed):
            continue
        issued.append(
            _issue_txn(
                session=session,
                rule=rule,
                version=version,
                customer_id=customer_id,
                period_key=period_key,
                seq=seq + 1,
                observed=observed,
                now=now,
            )
        )
    return issued


def _issue_txn(
    *,
    session: Session,
    rule: OfferRule,
    version: int,
    customer_id: str,
    period_key: str,
    seq: int,
    observed: dict[str, Any],
    now: datetime,
) -> str:
    public_id = new_id("ofr")
    expires_at = now + timedelta(days=rule.validity_days)
    facts = {
        "rule": rule.model_dump(mode="json", exclude_none=True),
        "observed": observed,
    }
    store.insert_offer(
        session=session,
        public_id=public_id,
        customer_id=customer_id,
        rule=rule.code,
        period_key=period_key,
        seq=seq,
        program_version=version,
        reward_kind=rule.reward.kind,
        bonus_points=rule.reward.bonus_points,
        discount_code=rule.reward.discount_code,
        reward_code=rule.reward.reward,
        facts=json.dumps(facts, sort_keys=True, separators=(",", ":")),
        issued_at=now,
        expires_at=expires_at,
    )
    events.record_event_txn(
        session=session,
        type=OFFER_ISSUED,
        payload={
            "customer_id": customer_id,
            "offer": public_id,
            "rule": rule.code,
            "reward_kind": rule.reward.kind,
            "expires_at": isoformat(expires_at),
        },
        now=now,
    )
    return public_id


def evaluate_after_purchase_txn(
    *,
    session: Session,
    settings: Settings,
    program: Program,
    version: int,
    customer_id: str,
    now: datetime,
    pending: frozenset[str] | None = None,
) -> list[str]:
    """After a purchase, in its transaction: the rules a purchase can change."""
    rules = after_purchase_rules(program)
    if not rules:
        return []
    return evaluate_rules_txn(
        session=session,
        settings=settings,
        program=program,
        version=version,
        rules=list(rules),
        customer_id=customer_id,
        now=now,
        pending=pending,
    )


def after_purchase_rules(program: Program) -> tuple[OfferRule, ...]:
    """The offer rules a purchase can make fire."""
    return tuple(rule for rule in program.offers if rule.after_purchase)


@dataclass(frozen=True)
class OfferJobReport:
    customers: int
    issued: int


def issue_scheduled_offers(
    db: Database, settings: Settings, secrets: NodeSecrets, *, now: datetime, batch: int = 200
) -> OfferJobReport:
    """The program job: time-based rules (lapsed, tier, birthday month) for consenting members."""
    with db.read() as session:
        in_force = program_at_txn(session=session, settings=settings, moment=now)
    rules = [rule for rule in in_force.program.offers if not rule.after_purchase]
    if not rules:
        return OfferJobReport(0, 0)
    customers = issued = 0
    after = ""
    while True:
        with db.transaction() as session:
            due = store.customers_granting(
                session=session, purpose=consent.PERSONALISED_OFFERS, after=after, limit=batch
            )
            for customer_id in due:
                new = evaluate_rules_txn(
                    session=session,
                    settings=settings,
                    program=in_force.program,
                    version=in_force.version,
                    rules=rules,
                    customer_id=customer_id,
                    now=now,
                    secrets=secrets,
                )
                customers += 1 if new else 0
                issued += len(new)
        if len(due) < batch:
            return OfferJobReport(customers, issued)
        after = due[-1]


# -- withdrawal ----------------------------------------------------------------------


def remove_pending_offers_txn(*, session: Session, customer_id: str, now: datetime) -> None:
    """The withdrawal hook: the member's pending offers go, in the same transaction."""
    del now
    store.delete_pending(session=session, customer_id=customer_id)


for _purpose in (consent.PERSONALISED_OFFERS, consent.PROFILING):
    _hooks = consent.ON_WITHDRAWAL.setdefault(_purpose, [])
    if remove_pending_offers_txn not in _hooks:
        _hooks.append(remove_pending_offers_txn)


# -- reading -------------------------------------------------------------------------


def offer_status(row: store.OfferRow, now: datetime) -> str:
    if row.status == store.USED:
        return "used"
    return "expired" if row.expires_at <= now else "pending"


def offer_json(row: store.OfferRow, settings: Settings, now: datetime) -> dict[str, Any]:
    facts = json.loads(row.facts)
    rule = OfferRule.model_validate_json(json.dumps(facts["rule"]))
    return {
        "id": row.public_id,
        "rule": row.rule,
        "name": rule.name,
        "status": offer_status(row, now),
        "reward": {
            "kind": row.reward_kind,
            "bonus_points": row.bonus_points,
            "discount_code": row.discount_code,
            "reward": row.reward_code,
        },
        "explanation": explain(
            rule,
            facts["observed"],
            currency=settings.currency,
            exponent=settings.currency_exponent,
        ),
        "facts": {"condition": facts["rule"]["condition"], **facts["observed"]},
        "issued_at": isoformat(row.issued_at),
        "expires_at": isoformat(row.expires_at),
        "used_at": isoformat(row.used_at) if row.used_at else None,
        "reference": row.use_reference,
        "voucher_code": row.voucher_code,
    }


def customer_offers(
    db: Database, settings: Settings, *, customer_id: str, now: datetime
) -> list[dict[str, Any]]:
    """The member's offers, newest first, each with why it was given."""
    with db.read() as session:
        require_active_txn(session=session, customer_id=customer_id)
        rows = store.customer_offers(session=session, customer_id=customer_id)
    return [offer_json(row, settings, now) for row in rows]


# -- use -----------------------------------------------------------------------------


def use_offer_unit(
    settings: Settings,
    *,
    customer_id: str,
    offer_id: str,
    reference: str | None,
    idempotency_key: str,
    now: datetime,
    actor: str | None = None,
) -> Unit:
    """Mark an offer used and grant what it gives, once per Idempotency-Key and offer."""

    def work(session: Session) -> Answer:
        require_active_txn(session=session, customer_id=customer_id)
        account_id = ledger.customer_account_id_txn(session=session, customer_id=customer_id)
        ledger_store.lock_account(session=session, account_id=account_id)
        row = store.find_offer(session=session, customer_id=customer_id, public_id=offer_id)
        if row is None:
            raise NotFound("the customer has no offer with this id", field="offer_id")
        status = offer_status(row, now)
        if status == "used":
            raise Conflict("this offer has been used", field="offer_id", code="offer_used")
        if status == "expired":
            raise Conflict("this offer has expired", field="offer_id", code="offer_expired")
        program = program_at_txn(session=session, settings=settings, moment=now).program
        posted: ledger.PostedTransaction | None = None
        voucher_code: str | None = None
        if row.bonus_points is not None:
            posted = ledger.credit_points_txn(
                session=session,
                customer_id=customer_id,
                points=row.bonus_points,
                kind=OFFER_KIND,
                source_account=ledger.ISSUED,
                idempotency_key=f"offer:{row.public_id}",
                reference=reference or f"offer:{row.rule}",
                now=now,
                expiry_days=program.expiry.days,
                actor=actor,
            )
        elif row.reward_code is not None:
            posted, voucher_code = _free_voucher_txn(
                session=session,
                settings=settings,
                program=program,
                row=row,
                now=now,
                actor=actor,
            )
        used = store.mark_used(
            session=session,
            offer_id=row.id,
            now=now,
            reference=reference,
            transaction_id=posted.id if posted else None,
            voucher_code=voucher_code,
        )
        if not used:  # pragma: no cover - the account lock serialises uses
            raise Conflict("this offer has been used", field="offer_id", code="offer_used")
        found = store.find_offer(session=session, customer_id=customer_id, public_id=offer_id)
        assert found is not None
        balance = ledger_store.customer_account(session=session, customer_id=customer_id)
        body: dict[str, Any] = {
            "customer_id": customer_id,
            "offer": offer_json(found, settings, now),
            "transaction": None
            if posted is None
            else {
                "id": posted.public_id,
                "kind": posted.kind,
                "points": posted.points,
                "reference": reference,
                "created_at": isoformat(posted.created_at),
            },
            "balance": balance[1] if balance else 0,
        }
        return Answer(200, body)

    return idempotent_unit(
        key=idempotency_key,
        operation="offer-use",
        request={"customer_id": customer_id, "offer_id": offer_id, "reference": reference},
        now=now,
        work=work,
    )


def _free_voucher_txn(
    *,
    session: Session,
    settings: Settings,
    program: Program,
    row: store.OfferRow,
    now: datetime,
    actor: str | None,
) -> tuple[ledger.PostedTransaction, str]:
    """Credit the reward's points and redeem them for its voucher: free, and balanced."""
    assert row.reward_code is not None
    reward = program.reward(row.reward_code)
    if reward is None:
        raise Conflict(
            "the program no longer has this offer's reward",
            field="offer_id",
            code="reward_unavailable",
        )
    posted = ledger.credit_points_txn(
        session=session,
        customer_id=row.customer_id,
        points=reward.points,
        kind=OFFER_KIND,
        source_account=ledger.ISSUED,
        idempotency_key=f"offer:{row.public_id}",
        reference=f"offer:{row.rule}",
        now=now,
        expiry_days=program.expiry.days,
        actor=actor,
    )
    issued = rewards.issue_voucher_txn(
        session=session,
        settings=settings,
        customer_id=row.customer_id,
        reward_code=reward.code,
        ledger_key=f"offer:{row.public_id}:voucher",
        now=now,
        actor=actor,
    )
    return posted, issued.voucher.code
