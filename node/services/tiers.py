"""Tiers: status levels by rolling spend (or points), up at once, down at review.

The rules (docs/program.md, "Tiers"):

- A member's *qualifying value* is their net spend (purchases minus refunds,
  minor units) over the last ``window_days``, or, with ``basis = "points"``,
  the points those purchases earned net of refunds.
- Up at once: after every purchase the member moves to the highest tier the
  qualifying value reaches, and that tier is reviewed ``review_interval_days``
  later. The purchase itself earns at the tier held when it was paid.
- Down at review: a member found below their tier at a review keeps it for
  ``grace_days`` more (the grace period); if still below at the end of the
  grace, they move down to the tier their value reaches. Reaching the tier
  again during grace simply ends the grace.
- Every move is kept in ``tier_change`` with the figure that decided it, and
  queues a ``tier.changed`` event.

A member without a ``customer_tier`` row is in the entry tier (the first level).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from node.clock import isoformat
from node.db import Database
from node.program.config import Program, Tier, TierRules
from node.services import events
from node.services.customers import require_active_txn
from node.services.program import program_at_txn
from node.settings import Settings
from node.store import tiers as store


@dataclass(frozen=True)
class TierStatus:
    tier: Tier | None
    since: datetime | None
    review_at: datetime | None
    grace_until: datetime | None
    qualifying_value: int
    basis: str
    next_tier: Tier | None
    #: How much more spend (or points) reaches the next tier.
    to_next_tier: int | None
    history: list[store.TierChangeRow]


def entry_tier(rules: TierRules) -> str | None:
    return rules.levels[0].code if rules.levels else None


def tier_of_txn(*, session: Session, program: Program, customer_id: str) -> str | None:
    """The member's tier code (entry tier without a row; None with no tiers)."""
    if not program.tiers.levels:
        return None
    row = store.customer_tier(session=session, customer_id=customer_id)
    return row.tier if row is not None else entry_tier(program.tiers)


def tiers_for_purchase_txn(
    *, session: Session, program: Program, customer_id: str, moment: datetime
) -> tuple[str | None, str | None]:
    """(tier now, tier held at ``moment``) for a purchase paid at ``moment``.

    They differ only for a purchase sent late (``occurred_at``) by a member
    whose tier changed since; the history says what they held then.
    """
    if not program.tiers.levels:
        return None, None
    row = store.customer_tier(session=session, customer_id=customer_id)
    return tiers_held_txn(
        session=session, program=program, customer_id=customer_id, row=row, moment=moment
    )


def tiers_held_txn(
    *,
    session: Session,
    program: Program,
    customer_id: str,
    row: store.TierRow | None,
    moment: datetime,
) -> tuple[str | None, str | None]:
    """:func:`tiers_for_purchase_txn` with the member's tier row already read."""
    if not program.tiers.levels:
        return None, None
    entry = entry_tier(program.tiers)
    if row is None:
        return entry, entry
    if moment >= row.since:
        return row.tier, row.tier
    held = store.tier_at(session=session, customer_id=customer_id, moment=moment)
    return row.tier, held or entry


def qualifying_since(rules: TierRules, now: datetime) -> datetime:
    """The start of the window the qualifying figure counts purchases from."""
    return now - timedelta(days=rules.window_days)


def value_after_purchase(
    rules: TierRules,
    *,
    before: int | None,
    amount: int,
    points: int,
    moment: datetime,
    now: datetime,
) -> int | None:
    """The qualifying figure once a purchase is counted, from the figure read before it
    (None when that was not read); a purchase dated before the window adds nothing."""
    if before is None:
        return None
    if moment < qualifying_since(rules, now):
        return before
    return before + (amount if rules.basis == "spend" else points)


def qualifying_value_txn(
    *, session: Session, rules: TierRules, customer_id: str, now: datetime
) -> int:
    since = qualifying_since(rules, now)
    if rules.basis == "points":
        return store.qualifying_points(session=session, customer_id=customer_id, since=since)
    return store.qualifying_spend(session=session, customer_id=customer_id, since=since)


def _move_txn(
    *,
    session: Session,
    customer_id: str,
    row: store.TierRow | None,
    to: str,
    reason: str,
    value: int,
    version: int,
    rules: TierRules,
    now: datetime,
) -> None:
    from_tier = row.tier if row is not None else entry_tier(rules)
    store.save_customer_tier(
        session=session,
        customer_id=customer_id,
        tier=to,
        since=now,
        review_at=now + timedelta(days=rules.review_interval_days),
        grace_until=None,
        exists=row is not None,
    )
    store.insert_tier_change(
        session=session,
        customer_id=customer_id,
        from_tier=from_tier,
        to_tier=to,
        reason=reason,
        qualifying_value=value,
        program_version=version,
        now=now,
    )
    events.record_event_txn(
        session=session,
        type="tier.changed",
        payload={
            "customer_id": customer_id,
            "from_tier": from_tier,
            "to_tier": to,
            "reason": reason,
            "qualifying_value": value,
            "basis": rules.basis,
        },
        now=now,
    )


def upgrade_after_purchase_txn(
    *,
    session: Session,
    program: Program,
    version: int,
    customer_id: str,
    current: str | None,
    now: datetime,
    value: int | None = None,
) -> str | None:
    """Move the member up if their qualifying value now reaches a higher tier.

    ``value`` is that figure when the caller already knows it (the earn path
    reads it with the member's standing); otherwise it is read here.
    """
    rules = program.tiers
    if not rules.levels or current == rules.levels[-1].code:
        return None
    if value is None:
        value = qualifying_value_txn(session=session, rules=rules, customer_id=customer_id, now=now)
    reached = rules.qualifying(value)
    if reached is None or rules.rank(reached.code) <= rules.rank(current):
        return None
    row = store.customer_tier(session=session, customer_id=customer_id)
    _move_txn(
        session=session,
        customer_id=customer_id,
        row=row,
        to=reached.code,
        reason="qualified",
        value=value,
        version=version,
        rules=rules,
        now=now,
    )
    return reached.code


def _review_txn(*, session: Session, settings: Settings, row: store.TierRow, now: datetime) -> str:
    """Review one member; returns what happened (kept, grace, up, down)."""
    in_force = program_at_txn(session=session, settings=settings, moment=now)
    rules = in_force.program.tiers
    if not rules.levels:  # tiers were removed: look again after the usual interval
        store.save_customer_tier(
            session=session,
            customer_id=row.customer_id,
            tier=row.tier,
            since=row.since,
            review_at=now + timedelta(days=rules.review_interval_days),
            grace_until=None,
            exists=True,
        )
        return "kept"
    value = qualifying_value_txn(session=session, rules=rules, customer_id=row.customer_id, now=now)
    reached = rules.qualifying(value)
    assert reached is not None  # the entry tier's threshold is 0
    held = rules.rank(row.tier)
    common = {
        "session": session,
        "customer_id": row.customer_id,
        "row": row,
        "value": value,
        "version": in_force.version,
        "rules": rules,
        "now": now,
    }
    if rules.rank(reached.code) > held:
        _move_txn(to=reached.code, reason="qualified", **common)  # type: ignore[arg-type]
        return "up"
    if rules.rank(reached.code) == held:
        store.save_customer_tier(
            session=session,
            customer_id=row.customer_id,
            tier=row.tier,
            since=row.since,
            review_at=now + timedelta(days=rules.review_interval_days),
            grace_until=None,
            exists=True,
        )
        return "kept"
    if row.grace_until is None and rules.grace_days > 0 and held >= 0:
        grace_until = now + timedelta(days=rules.grace_days)
        store.save_customer_tier(
            session=session,
            customer_id=row.customer_id,
            tier=row.tier,
            since=row.since,
            review_at=grace_until,
            grace_until=grace_until,
            exists=True,
        )
        return "grace"
    _move_txn(to=reached.code, reason="review", **common)  # type: ignore[arg-type]
    return "down"


@dataclass(frozen=True)
class ReviewReport:
    reviewed: int
    up: int
    down: int
    grace: int


def review_tiers(
    db: Database, settings: Settings, *, now: datetime, batch_size: int = 200
) -> ReviewReport:
    """Review every member whose review is due; safe to run again at any time."""
    counts = {"kept": 0, "up": 0, "down": 0, "grace": 0}
    while True:
        with db.read() as session:
            due = store.due_reviews(session=session, now=now, limit=batch_size)
        if not due:
            break

        def unit(session: Session, due: list[store.TierRow] = due) -> list[str]:
            results = []
            for stale in due:
                row = store.customer_tier(session=session, customer_id=stale.customer_id)
                if row is None or row.review_at > now:
                    continue  # another process reviewed it meanwhile
                results.append(_review_txn(session=session, settings=settings, row=row, now=now))
            return results

        for outcome in db.write(unit):
            counts[outcome] += 1
    return ReviewReport(sum(counts.values()), counts["up"], counts["down"], counts["grace"])


def tier_status(db: Database, settings: Settings, *, customer_id: str, now: datetime) -> TierStatus:
    """Where a member stands: tier, qualifying value, distance to the next tier, history."""
    with db.read() as session:
        require_active_txn(session=session, customer_id=customer_id)
        program = program_at_txn(session=session, settings=settings, moment=now).program
        rules = program.tiers
        row = store.customer_tier(session=session, customer_id=customer_id)
        value = qualifying_value_txn(session=session, rules=rules, customer_id=customer_id, now=now)
        history = store.tier_history(session=session, customer_id=customer_id, limit=50)
    code = row.tier if row is not None else entry_tier(rules)
    tier = rules.level(code)
    rank = rules.rank(code)
    following = rules.levels[rank + 1] if rank + 1 < len(rules.levels) else None
    return TierStatus(
        tier=tier,
        since=row.since if row else None,
        review_at=row.review_at if row else None,
        grace_until=row.grace_until if row else None,
        qualifying_value=value,
        basis=rules.basis,
        next_tier=following,
        to_next_tier=max(0, following.threshold - value) if following else None,
        history=history,
    )


def tier_status_json(status: TierStatus) -> dict[str, object]:
    def level(tier: Tier | None) -> dict[str, object] | None:
        if tier is None:
            return None
        return {
            "code": tier.code,
            "name": tier.name,
            "threshold": tier.threshold,
            "multiplier_percent": tier.multiplier_percent,
            "benefits": list(tier.benefits),
        }

    def when(moment: datetime | None) -> str | None:
        return isoformat(moment) if moment else None

    return {
        "tier": level(status.tier),
        "since": when(status.since),
        "review_at": when(status.review_at),
        "grace_until": when(status.grace_until),
        "basis": status.basis,
        "qualifying_value": status.qualifying_value,
        "next_tier": level(status.next_tier),
        "to_next_tier": status.to_next_tier,
        "history": [
            {
                "from_tier": change.from_tier,
                "to_tier": change.to_tier,
                "reason": change.reason,
                "qualifying_value": change.qualifying_value,
                "program_version": change.program_version,
                "at": isoformat(change.created_at),
            }
            for change in status.history
        ],
    }
