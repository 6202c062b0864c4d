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
7. Cashback (store credit) is ``amount x basis_points / 10000`` minor units,
   rounded down, when the purchase reaches ``cashback.minimum_purchase``.
   Tiers and campaigns do not change it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from node.program.config import Campaign, Program


@dataclass(frozen=True)
class Line:
    amount: int
    category: str | None = None


@dataclass(frozen=True)
class Earning:
    points: int
    #: What the base rate alone would have given (category multipliers included).
    base_points: int
    cashback: int
    tier_percent: int
    #: Codes of the campaigns that added something, in program order.
    campaigns: tuple[str, ...]


def _matches(campaign: Campaign, *, moment: datetime, total: int, tier: str | None) -> bool:
    if not campaign.active_at(moment) or total < campaign.minimum_purchase:
        return False
    return not campaign.tiers or tier in campaign.tiers


def _applies_to(campaign: Campaign, category: str | None) -> bool:
    return not campaign.categories or category in campaign.categories


def _stack(campaigns: Sequence[tuple[Campaign, int]]) -> tuple[int, tuple[str, ...]]:
    """(value, codes used) by the stacking rule: best lone campaign vs. sum of stackables."""
    stackable = [(c, v) for c, v in campaigns if c.stackable and v > 0]
    lone = [(c, v) for c, v in campaigns if not c.stackable and v > 0]
    together = sum(v for _, v in stackable)
    best = max(lone, key=lambda item: item[1], default=None)
    if best is not None and best[1] > together:
        return best[1], (best[0].code,)
    return together, tuple(c.code for c, _ in stackable)


def compute_earning(
    program: Program,
    *,
    lines: Sequence[Line],
    moment: datetime,
    tier: str | None,
    currency_exponent: int,
) -> Earning:
    """Points and cashback for one purchase made at ``moment`` by a member of ``tier``."""
    total = sum(line.amount for line in lines)
    cashback_rules = program.cashback
    cashback = 0
    if cashback_rules.basis_points and total >= cashback_rules.minimum_purchase:
        cashback = total * cashback_rules.basis_points // 10_000
    level = program.tiers.level(tier)
    tier_percent = level.multiplier_percent if level is not None else 100
    earn = program.earn
    if total < earn.minimum_purchase or total == 0:
        return Earning(0, 0, cashback, tier_percent, ())

    running = [c for c in program.campaigns if _matches(c, moment=moment, total=total, tier=tier)]
    multipliers = [c for c in running if c.kind == "multiplier"]
    fixed = [c for c in running if c.kind == "fixed"]

    # Units of 1/(10^exponent * 100 * 100) point: amount x rate x category % x total %.
    scaled = base_scaled = 0
    used: set[str] = set()
    for line in lines:
        category_percent = earn.categories.get(line.category or "", 100)
        line_base = line.amount * earn.points_per_unit * category_percent
        extras = [
            (c, (c.multiplier_percent or 100) - 100)
            for c in multipliers
            if _applies_to(c, line.category)
        ]
        extra, codes = _stack(extras)
        used.update(codes)
        scaled += line_base * (tier_percent + extra)
        base_scaled += line_base * 100
    divisor = 10**currency_exponent * 100 * 100
    points = scaled // divisor

    bonuses = [
        (c, c.bonus_points or 0)
        for c in fixed
        if any(_applies_to(c, line.category) for line in lines)
    ]
    bonus, codes = _stack(bonuses)
    used.update(codes)
    order = tuple(c.code for c in program.campaigns if c.code in used)
    return Earning(points + bonus, base_scaled // divisor, cashback, tier_percent, order)
