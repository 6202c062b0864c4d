"""One read of a member's standing for the earn hot path.

An earn under a full program needs the member's tier row, their paid
membership row and the offer rules they hold a pending offer of. Three
primary-key or index lookups cost three driver round trips and their
Python; this module asks for whichever of them the program needs in one
statement (a one-row key joined to each table), so an earn under a program
with tiers, a plan and offers runs one read where a flat earn runs none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from sqlmodel import Session

from node.store.engagement import add_progress_many, progress_params, progress_upsert
from node.store.ledger import (
    CUSTOMER_STATE_COLUMNS,
    CustomerState,
    customer_state_from_row,
    customer_state_params,
)
from node.store.membership import MembershipRow
from node.store.membership import row_from_driver as membership_row
from node.store.sql import raw
from node.store.tiers import TierRow
from node.store.tiers import row_from_driver as tier_row

_TIER = "t.customer_id, t.tier, t.since, t.review_at, t.grace_until"
_MEMBERSHIP = (
    "m.customer_id, m.plan, m.state, m.started_at, m.period_start, m.period_end,"
    " m.cancel_at_period_end, m.renewal_notice_for"
)


@dataclass(frozen=True)
class Standing:
    """What was asked for; a part not asked for is None (an empty set for offers)."""

    tier: TierRow | None
    membership: MembershipRow | None
    pending_rules: frozenset[str]
    #: The qualifying spend or points before this purchase; None when not asked
    #: for or when the member already holds ``Qualifying.top``.
    qualifying: int | None = None
    #: The points account's state (node.store.ledger.customer_state), when asked
    #: for with ``account_at``; None also when the member has no account.
    account: CustomerState | None = None
    #: challenge -> (progress, completed) after adding ``challenge_steps``.
    challenges: dict[str, tuple[int, bool]] = field(default_factory=dict)


@dataclass(frozen=True)
class Qualifying:
    """Ask for the tier's qualifying figure since ``since`` unless the member holds ``top``."""

    basis: str  # "spend" or "points", as TierRules.basis
    since: datetime
    top: str


_FIGURE = {"spend": "amount - refunded_amount", "points": "points - reversed_points"}


@lru_cache(maxsize=32)
def _statement(
    tier: bool,
    membership: bool,
    offers: bool,
    qualifying: str | None,
    sqlite: bool,
    account: bool,
    challenges: int = 0,
) -> str:
    columns: list[str] = []
    joins: list[str] = []
    head = ""
    if challenges:  # PostgreSQL only: a data-modifying WITH, run once
        head = f"WITH up AS ({progress_upsert(challenges)}) "
        columns.append(
            "(SELECT string_agg(up.challenge || ':' || up.progress || ':'"
            " || CASE WHEN up.completed_at IS NULL THEN 0 ELSE 1 END, ',') FROM up)"
        )
    if account:
        columns.append(CUSTOMER_STATE_COLUMNS)
        joins.append(
            "LEFT JOIN account a ON a.customer_id = k.id"
            " LEFT JOIN customer c ON c.id = a.customer_id"
        )
    if tier:
        columns.append(_TIER)
        joins.append("LEFT JOIN customer_tier t ON t.customer_id = k.id")
    if membership:
        columns.append(_MEMBERSHIP)
        joins.append("LEFT JOIN membership m ON m.customer_id = k.id")
    if offers:
        aggregate = "group_concat(o.rule, ',')" if sqlite else "string_agg(o.rule, ',')"
        columns.append(
            f"(SELECT {aggregate} FROM customer_offer o WHERE o.customer_id = k.id"
            " AND o.status = 'pending' AND o.expires_at > ?)"
        )
    if qualifying is not None:
        figure = (
            f"(SELECT coalesce(sum({_FIGURE[qualifying]}), 0) FROM purchase p"
            " WHERE p.customer_id = k.id AND p.occurred_at >= ?)"
        )
        # A member at the top tier cannot move up: skip the sum (CASE is lazy).
        columns.append(f"CASE WHEN t.tier = ? THEN NULL ELSE {figure} END" if tier else figure)
    return (
        f"{head}SELECT {', '.join(columns)} FROM (SELECT CAST(? AS TEXT) AS id) k {' '.join(joins)}"
    )


def member_standing(
    *,
    session: Session,
    customer_id: str,
    tier: bool,
    membership: bool,
    offers_at: datetime | None,
    qualifying: Qualifying | None = None,
    account_at: datetime | None = None,
    challenge_steps: Sequence[tuple[str, int]] = (),
    now: datetime | None = None,
) -> Standing:
    """The member's tier row, membership row, pending offer rules (at ``offers_at``),
    qualifying figure and points account's state (lots due at ``account_at``), each
    read only when asked for (rule codes hold no comma).

    The account's state is asked for only together with something else: on its
    own, node.store.ledger.customer_state reads it. Asked for here, it saves the
    earn under a program that read (a round trip on PostgreSQL).

    ``challenge_steps`` (challenge, step) are added to the member's challenge
    progress (node.store.engagement.add_progress_many, stamped ``now``): on
    PostgreSQL in the same statement (a data-modifying ``WITH``), on SQLite,
    which has none, as a statement of its own (no round trip there).
    """
    sql = raw(session)
    asked = tier or membership or offers_at is not None or qualifying is not None
    # Folded into the read on PostgreSQL; else (SQLite, or nothing to read) on its own.
    folded = bool(challenge_steps) and asked and not sql.is_sqlite
    progress: dict[str, tuple[int, bool]] = {}
    if challenge_steps and not folded:
        assert now is not None
        progress = add_progress_many(
            session=session, customer_id=customer_id, steps=challenge_steps, now=now
        )
    if not asked:
        return Standing(None, None, frozenset(), challenges=progress)
    statement = _statement(
        tier,
        membership,
        offers_at is not None,
        qualifying.basis if qualifying is not None else None,
        sql.is_sqlite,
        account_at is not None,
        len(challenge_steps) if folded else 0,
    )
    # Placeholders in the text's order: the WITH's, the subqueries', the key's last.
    params: list[object] = []
    if folded:
        assert now is not None
        params += progress_params(sql, customer_id, challenge_steps, now)
    if account_at is not None:
        params += customer_state_params(sql, customer_id, account_at)
    if offers_at is not None:
        params.append(sql.time(offers_at))
    if qualifying is not None:
        if tier:
            params.append(qualifying.top)
        params.append(sql.time(qualifying.since))
    params.append(customer_id)
    row = sql.one(statement, tuple(params))
    assert row is not None  # the one-row key always yields a row
    at = 0
    if folded:
        for item in str(row[0] or "").split(","):
            code, reached, completed = item.split(":")
            progress[code] = (int(reached), completed == "1")
        at = 1
    found_tier = found_membership = account = None
    if account_at is not None:
        account = customer_state_from_row(row[at : at + 5])
        at += 5
    if tier:
        found_tier = tier_row(sql, row[at : at + 5]) if row[at] is not None else None
        at += 5
    if membership:
        found_membership = membership_row(sql, row[at : at + 8]) if row[at] is not None else None
        at += 8
    rules: frozenset[str] = frozenset()
    if offers_at is not None:
        rules = frozenset(str(row[at]).split(",")) if row[at] else frozenset()
        at += 1
    figure = int(row[at]) if qualifying is not None and row[at] is not None else None
    return Standing(found_tier, found_membership, rules, figure, account, progress)
