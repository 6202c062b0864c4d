"""The rewards catalogue: what members can redeem now, and redeeming a reward
for a voucher.

The catalogue is ``program.rewards`` of the program in force
(node.program.config.Reward: price in points, stock, per-customer limit,
availability window, voucher validity, member-only tiers). Runtime state is
two tables (node.store.rewards): ``reward_stock`` counts issued units and
``voucher`` remembers each voucher. What happens to a voucher afterwards
(check, use, cancel, lists) is node.services.vouchers.

Issuing is one transaction: the rules, a stock unit, the points (FIFO,
``kind`` "reward", into ``program:redeemed``), the voucher row and its
``voucher.issued`` event. Races meet at row locks, never in Python: the
member's account row lock serialises one member's redemptions, so the
per-customer limit holds; a conditional UPDATE on the stock counter lets
exactly one redeemer take the last unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from node.clock import isoformat
from node.db import Database
from node.errors import Conflict, ValidationFailed
from node.program.config import Program, Reward
from node.services import ledger, memberships
from node.services.customers import require_active_txn
from node.services.events import record_event_txn
from node.services.idempotency import Answer, Unit, idempotent_unit, run_idempotent
from node.services.program import program_at_txn
from node.services.vouchers import new_voucher_code, transaction_json, voucher_json
from node.settings import Settings
from node.store import ledger as ledger_store
from node.store import rewards as store

REWARD_KIND = "reward"
VOUCHER_ISSUED = "voucher.issued"


# -- the catalogue -------------------------------------------------------------


@dataclass(frozen=True)
class CatalogueEntry:
    reward: Reward
    #: Units that may still be issued; None when the stock is unlimited.
    stock_left: int | None
    #: Vouchers this member may still get; None when there is no per-customer limit
    #: (and in the operator's catalogue, which is not about one member).
    limit_left: int | None = None


@dataclass(frozen=True)
class MemberCatalogue:
    customer_id: str
    #: The member's tier (the entry tier when none is stored), None without tiers.
    tier: str | None
    entries: list[CatalogueEntry]


def _stock_left(reward: Reward, issued: dict[str, int]) -> int | None:
    if reward.stock is None:
        return None
    return max(reward.stock - issued.get(reward.code, 0), 0)


def _member_tier_txn(*, session: Session, customer_id: str, program: Program) -> str | None:
    stored = store.member_tier(session=session, customer_id=customer_id)
    if stored is not None:
        return stored
    levels = program.tiers.levels
    return levels[0].code if levels else None


def _tier_allows(reward: Reward, tier: str | None) -> bool:
    return not reward.tiers or tier in reward.tiers


def catalogue(db: Database, settings: Settings, *, now: datetime) -> list[CatalogueEntry]:
    """Rewards of the program in force that are available now and have stock left."""
    with db.read() as session:
        program = program_at_txn(session=session, settings=settings, moment=now).program
        issued = store.issued_counts(
            session=session, reward_codes=[r.code for r in program.rewards]
        )
    entries = []
    for reward in program.rewards:
        left = _stock_left(reward, issued)
        if reward.available_at(now) and left != 0:
            entries.append(CatalogueEntry(reward, left))
    return entries


@dataclass(frozen=True)
class StockEntry:
    reward: Reward
    #: Units issued and not given back.
    issued: int
    #: Units that may still be issued; None when the stock is unlimited.
    stock_left: int | None


def stock_levels(db: Database, settings: Settings, *, now: datetime) -> list[StockEntry]:
    """Every reward of the program in force (available now or not) with its stock.

    The stock is part of the program (``Reward.stock``, how many can ever be
    issued): adjusting it is a program change, a new version."""
    with db.read() as session:
        program = program_at_txn(session=session, settings=settings, moment=now).program
        issued = store.issued_counts(
            session=session, reward_codes=[r.code for r in program.rewards]
        )
    return [
        StockEntry(reward, issued.get(reward.code, 0), _stock_left(reward, issued))
        for reward in program.rewards
    ]


def member_catalogue(
    db: Database, settings: Settings, *, customer_id: str, now: datetime
) -> MemberCatalogue:
    """The rewards this member may redeem now: available, in stock, their tier, under
    their limit. Their balance is not considered (see the balance for that)."""
    with db.read() as session:
        require_active_txn(session=session, customer_id=customer_id)
        program = program_at_txn(session=session, settings=settings, moment=now).program
        tier = _member_tier_txn(session=session, customer_id=customer_id, program=program)
        issued = store.issued_counts(
            session=session, reward_codes=[r.code for r in program.rewards]
        )
        held = store.vouchers_held(session=session, customer_id=customer_id)
        paid_plan = memberships.plan_for_purchase_txn(
            session=session, program=program, customer_id=customer_id, moment=now
        )
    entries = []
    for reward in program.rewards:
        stock_left = _stock_left(reward, issued)
        limit_left = (
            None
            if reward.per_customer_limit is None
            else max(reward.per_customer_limit - held.get(reward.code, 0), 0)
        )
        if (
            reward.available_at(now)
            and stock_left != 0
            and limit_left != 0
            and _tier_allows(reward, tier)
            and (not reward.plans or (paid_plan is not None and paid_plan.code in reward.plans))
        ):
            entries.append(CatalogueEntry(reward, stock_left, limit_left))
    return MemberCatalogue(customer_id, tier, entries)


# -- issuing -------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedVoucher:
    voucher: store.VoucherRow
    reward: Reward
    transaction: ledger.PostedTransaction
    #: The member's balance just after the points were taken.
    balance: int


def issue_voucher_txn(
    *,
    session: Session,
    settings: Settings,
    customer_id: str,
    reward_code: str,
    ledger_key: str | None,
    now: datetime,
    actor: str | None = None,
) -> IssuedVoucher:
    """Redeem ``reward_code`` for a member: checks, stock, points, voucher, event.

    Refusals, in this order and before anything stays written: no such
    customer (NotFound), ``reward_unknown`` (422), ``reward_unavailable``,
    ``tier_required``, ``limit_reached``, ``out_of_stock``,
    ``insufficient_points`` (all 409).
    """
    require_active_txn(session=session, customer_id=customer_id)
    account_id = ledger.customer_account_id_txn(session=session, customer_id=customer_id)
    # One member's redemptions queue here, so the limit count below is current.
    ledger_store.lock_account(session=session, account_id=account_id)
    program = program_at_txn(session=session, settings=settings, moment=now).program
    reward = program.reward(reward_code)
    if reward is None:
        raise ValidationFailed(
            "the program has no reward with this code", field="reward", code="reward_unknown"
        )
    if not reward.available_at(now):
        raise Conflict(
            "this reward cannot be redeemed at this time", field="reward", code="reward_unavailable"
        )
    tier = _member_tier_txn(session=session, customer_id=customer_id, program=program)
    if not _tier_allows(reward, tier):
        raise Conflict(
            "this reward is for members of other tiers", field="reward", code="tier_required"
        )
    if reward.plans and not memberships.holds_plan_txn(
        session=session, program=program, customer_id=customer_id, plans=reward.plans, now=now
    ):
        raise Conflict(
            "this reward is for paid members of other plans", field="reward", code="plan_required"
        )
    if reward.per_customer_limit is not None:
        held = store.vouchers_held(session=session, customer_id=customer_id).get(reward.code, 0)
        if held >= reward.per_customer_limit:
            raise Conflict(
                "the member has had this reward as often as allowed",
                field="reward",
                code="limit_reached",
            )
    if not store.take_stock_unit(session=session, reward_code=reward.code, stock=reward.stock):
        raise Conflict("this reward is out of stock", field="reward", code="out_of_stock")
    posted = ledger.debit_points_txn(
        session=session,
        customer_id=customer_id,
        points=reward.points,
        kind=REWARD_KIND,
        target_account=ledger.REDEEMED,
        idempotency_key=ledger_key,
        reference=reward.code,
        now=now,
        actor=actor,
    )
    days = reward.voucher_valid_days
    voucher = store.insert_voucher(
        session=session,
        code=new_voucher_code(),
        reward_code=reward.code,
        customer_id=customer_id,
        points=reward.points,
        transaction_id=posted.id,
        issued_at=now,
        expires_at=now + timedelta(days=days) if days else None,
    )
    record_event_txn(
        session=session,
        type=VOUCHER_ISSUED,
        payload={
            "customer_id": customer_id,
            "code": voucher.code,
            "reward": reward.code,
            "points": reward.points,
            "expires_at": isoformat(voucher.expires_at) if voucher.expires_at else None,
        },
        now=now,
    )
    assert posted.balance is not None
    return IssuedVoucher(voucher, reward, posted, posted.balance)


def issue_voucher(db: Database, settings: Settings, **request: Any) -> Answer:
    """Redeem a reward once per Idempotency-Key (see :func:`issue_voucher_unit`)."""
    return run_idempotent(db, issue_voucher_unit(settings, **request))


def issue_voucher_unit(
    settings: Settings,
    *,
    customer_id: str,
    reward_code: str,
    idempotency_key: str,
    now: datetime,
    actor: str | None = None,
) -> Unit:
    """Answer 201 with the voucher, the ledger transaction and the balance.

    A voucher code that collides with an existing one (1 in 2^60 per pair)
    fails the unit with an IntegrityError; ``run_idempotent`` runs it once
    more, with a new code.
    """

    def work(session: Session) -> Answer:
        issued = issue_voucher_txn(
            session=session,
            settings=settings,
            customer_id=customer_id,
            reward_code=reward_code,
            ledger_key=f"api:{idempotency_key}",
            now=now,
            actor=actor,
        )
        program = program_at_txn(session=session, settings=settings, moment=now).program
        body = {
            "customer_id": customer_id,
            "voucher": voucher_json(issued.voucher, program, now),
            "transaction": transaction_json(issued.transaction, issued.reward.code),
            "balance": issued.balance,
        }
        return Answer(201, body)

    return idempotent_unit(
        key=idempotency_key,
        operation="voucher-issue",
        request={"customer_id": customer_id, "reward": reward_code},
        now=now,
        work=work,
    )
