"""What a purchase earns under a program: pure integer arithmetic.

The rules, as docs/program.md tells a shop owner:

1. A purchase below ``earn.minimum_purchase`` earns no points at all (no base
   points, no campaign bonus).
2. Each line earns ``amount x points_per_unit / 10^exponent`` base points,
   times its category multiplier (``earn.categories``, 100 % when absent).
3. On top of that base, the member's tier and the campaigns running at the
   moment of purchase add their *extra* percentages. A Gold tier at 125 %
   adds 25 %; a double-points campaign (200 %) adds 100 %. So a Gold member in
   a double-points weekend earns 100 + 25 + 100 = 225 % of the base.
4. Stacking: all stackable campaigns that match a line add up. Campaigns
   marked ``stackable = false`` do not add to anything: the best single
   non-stackable campaign competes with the sum of the stackable ones, and
   the larger of the two applies. Fixed-bonus campaigns follow the same rule
   among themselves.
5. A campaign matches when it runs at the purchase time, the purchase reaches
   its own ``minimum_purchase``, the member's tier is in its ``tiers`` (or it
   has none) and, for a line, the line's category is in its ``categories``
   (or it has none). A fixed bonus is paid once per purchase when any line
   matches.
6. Rounding happens once, at the end, down to whole points: nothing is lost
   to per-line rounding.
7. A paid membership plan's ``earn_multiplier_percent`` replaces the tier's
   percent when it is larger (or adds its extra to it when the program says
   ``membership.stack_with_tiers``); see node.program.membership.
8. Cashback (store credit) is ``amount x basis_points / 10000`` minor units,
   rounded down, when the purchase reaches ``cashback.minimum_purchase``.
   Tiers and campaigns do not change it.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from node.program.config import Program
from node.program.membership import member_percent


@dataclass(frozen=True)
class Line:
    amount: int
    category: str | None = None
    #: The shop's product code (SKU), for product offer rules; never personal data.
    product: str | None = None


@dataclass(frozen=True)
class Earning:
    points: int
    #: What the base rate alone would have given (category multipliers included).
    base_points: int
    cashback: int
    tier_percent: int
    #: Codes of the campaigns that added something, in program order.
    campaigns: tuple[str, ...]
    #: The paid plan's multiplier when the member held one, else None.
    plan_percent: int | None = None


@dataclass(frozen=True, slots=True)
class _Campaign:
    code: str
    starts: datetime
    ends: datetime
    fixed: bool
    #: The extra percent of a multiplier (200 % -> 100), or a fixed bonus's points.
    value: int
    categories: frozenset[str] | None
    tiers: frozenset[str] | None
    minimum: int
    stackable: bool


@dataclass(frozen=True, slots=True)
class EarnPlan:
    """A program's earn rules flattened once, so a purchase costs a few loops."""

    points_per_unit: int
    minimum: int
    categories: dict[str, int]
    tier_percent: dict[str, int]
    campaigns: tuple[_Campaign, ...]
    cashback_basis_points: int
    cashback_minimum: int
    #: Every campaign start and end as a POSIX timestamp, sorted: between two of
    #: them the same campaigns run.
    instants: tuple[float, ...] = ()
    #: Every campaign minimum purchase, sorted: between two of them a purchase
    #: reaches the same campaigns.
    minimums: tuple[int, ...] = ()
    #: (interval, minimum level, tier) -> the campaigns that apply, see _applying.
    memo: dict[tuple[int, int, str | None], _Applying] = field(
        default_factory=dict, compare=False, repr=False
    )


@dataclass(frozen=True, slots=True)
class _Applying:
    """The campaigns running for one class of purchases, and each category's stack."""

    multipliers: tuple[_Campaign, ...]
    fixed: tuple[_Campaign, ...]
    #: category (None for none) -> (extra percent, codes), filled as categories come.
    stacks: dict[str | None, tuple[int, list[str]]]


#: Entries an EarnPlan keeps in its memo before starting afresh.
_MEMO_SIZE = 4096


def _plan(program: Program) -> EarnPlan:
    campaigns = program.campaigns
    return EarnPlan(
        points_per_unit=program.earn.points_per_unit,
        minimum=program.earn.minimum_purchase,
        categories=dict(program.earn.categories),
        tier_percent={level.code: level.multiplier_percent for level in program.tiers.levels},
        campaigns=tuple(
            _Campaign(
                code=c.code,
                starts=c.starts_at,
                ends=c.ends_at,
                fixed=c.kind == "fixed",
                value=(c.bonus_points or 0)
                if c.kind == "fixed"
                else (c.multiplier_percent or 100) - 100,
                categories=frozenset(c.categories) or None,
                tiers=frozenset(c.tiers) or None,
                minimum=c.minimum_purchase,
                stackable=c.stackable,
            )
            for c in campaigns
        ),
        cashback_basis_points=program.cashback.basis_points,
        cashback_minimum=program.cashback.minimum_purchase,
        instants=tuple(
            sorted(
                {c.starts_at.timestamp() for c in campaigns}
                | {c.ends_at.timestamp() for c in campaigns}
            )
        ),
        minimums=tuple(sorted({c.minimum_purchase for c in campaigns})),
    )


_PLANS: OrderedDict[int, tuple[Program, EarnPlan]] = OrderedDict()
_PLANS_LOCK = threading.Lock()


def earn_plan(program: Program) -> EarnPlan:
    """The program's plan, made once per program object (programs never change)."""
    key = id(program)
    with _PLANS_LOCK:
        found = _PLANS.get(key)
        if found is not None and found[0] is program:
            return found[1]
    plan = _plan(program)
    with _PLANS_LOCK:
        _PLANS[key] = (program, plan)
        while len(_PLANS) > 64:
            _PLANS.popitem(last=False)
    return plan


def _stack(values: list[tuple[_Campaign, int]]) -> tuple[int, list[str]]:
    """(value, codes used) by the stacking rule: best lone campaign vs. sum of stackables."""
    together = 0
    codes: list[str] = []
    best: tuple[_Campaign, int] | None = None
    for campaign, value in values:
        if campaign.stackable:
            together += value
            codes.append(campaign.code)
        elif best is None or value > best[1]:
            best = (campaign, value)
    if best is not None and best[1] > together:
        return best[1], [best[0].code]
    return together, codes


def _applying(plan: EarnPlan, moment: datetime, total: int, tier: str | None) -> _Applying:
    """The campaigns that apply to a purchase of ``total`` at ``moment`` by ``tier``.

    Purchases in the same interval between campaign boundaries, reaching the
    same campaign minimums, by the same tier, get the same campaigns: the
    answer is worked out once per such class and kept in the plan's memo (a
    purchase then costs two bisections instead of comparing every campaign's
    dates).
    """
    key = (
        bisect_right(plan.instants, moment.timestamp()),
        bisect_right(plan.minimums, total),
        tier,
    )
    found = plan.memo.get(key)
    if found is None:
        running = [
            c
            for c in plan.campaigns
            if c.value > 0
            and c.starts <= moment < c.ends
            and total >= c.minimum
            and (c.tiers is None or tier in c.tiers)
        ]
        found = _Applying(
            tuple(c for c in running if not c.fixed), tuple(c for c in running if c.fixed), {}
        )
        if len(plan.memo) >= _MEMO_SIZE:
            plan.memo.clear()
        plan.memo[key] = found
    return found


def _line_stack(applying: _Applying, category: str | None) -> tuple[int, list[str]]:
    """The multiplier campaigns' extra percent for a line of ``category``, and their codes."""
    found = applying.stacks.get(category)
    if found is None:
        found = applying.stacks[category] = _stack(
            [
                (c, c.value)
                for c in applying.multipliers
                if c.categories is None or category in c.categories
            ]
        )
    return found


def compute_earning(
    program: Program,
    *,
    lines: Sequence[Line],
    moment: datetime,
    tier: str | None,
    currency_exponent: int,
    plan_percent: int | None = None,
    stack_plan: bool = False,
) -> Earning:
    """Points and cashback for one purchase made at ``moment`` by a member of ``tier``."""
    plan = earn_plan(program)
    total = sum(line.amount for line in lines)
    cashback = 0
    if plan.cashback_basis_points and total >= plan.cashback_minimum:
        cashback = total * plan.cashback_basis_points // 10_000
    tier_percent = plan.tier_percent.get(tier, 100) if tier is not None else 100
    if total < plan.minimum or total == 0:
        return Earning(0, 0, cashback, tier_percent, (), plan_percent)
    percent = (
        tier_percent
        if plan_percent is None
        else member_percent(tier_percent, plan_percent, stack=stack_plan)
    )

    applying = _applying(plan, moment, total, tier)
    multipliers, fixed = applying.multipliers, applying.fixed

    # Units of 1/(10^exponent * 100 * 100) point: amount x rate x category % x total %.
    scaled = base_scaled = 0
    used: set[str] = set()
    for line in lines:
        category = line.category
        category_percent = plan.categories.get(category, 100) if category else 100
        line_base = line.amount * plan.points_per_unit * category_percent
        extra = 0
        if multipliers:
            extra, codes = _line_stack(applying, category)
            used.update(codes)
        scaled += line_base * (percent + extra)
        base_scaled += line_base * 100
    divisor = 10**currency_exponent * 100 * 100
    points = scaled // divisor

    bonus = 0
    if fixed:
        bonus, codes = _stack(
            [
                (c, c.value)
                for c in fixed
                if c.categories is None or any(line.category in c.categories for line in lines)
            ]
        )
        used.update(codes)
    order = tuple(c.code for c in plan.campaigns if c.code in used) if used else ()
    return Earning(
        points + bonus, base_scaled // divisor, cashback, tier_percent, order, plan_percent
    )
