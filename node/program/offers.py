"""Personalised offer rules as program configuration, and their pure evaluation.

An offer rule (``[[offers]]`` in the program) looks at one member's own
history at this node and, when its condition holds, yields an **offer**: bonus
points credited when the offer is used with a purchase, a discount code the
till applies (the node only records it), or a reward whose voucher is issued
free on use. Each rule has one condition:

==================  ===========================================================
``category_count``  purchases with a line in ``category``, ``times`` or more,
                    in the last ``within_days`` days
``product_count``   purchases with a line of ``product`` (the shop's product
                    code), ``times`` or more, in the last ``within_days`` days
``spend_above``     spend (net of refunds, minor units) above ``amount`` in the
                    last ``within_days`` days
``lapsed``          no purchase for ``days`` days (after at least one)
``tier``            the member holds ``tier``
``birthday_month``  it is the member's birth month (UTC)
==================  ===========================================================

Purchase lines carry a category, an amount and, when the till sends it, a
product code (a SKU: the shop's code, never personal data), so rules go by
category or by product.

Evaluating a behavioural rule (``category_count``, ``product_count``,
``spend_above``, ``lapsed``) analyses what the member buys: it is profiling,
and needs the ``profiling`` consent as well as ``personalised_offers``.
``tier`` and ``birthday_month`` do not profile unless ``profiles = true``
says so.

The service (node.services.offers) gathers the facts a rule needs with
indexed queries over the member's own rows; this module decides whether the
rule fires (:func:`fires`) and says why in plain words (:func:`explain`).
Facts hold figures and codes only: never a name, a birthday or free text.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from node.program.membership import PlanCode, PlanName, ProgramPart

WindowDays = Annotated[int, Field(strict=True, ge=1, le=3660)]
LimitPeriod = Literal["day", "week", "month", "year", "ever"]
#: Conditions that change with a purchase (evaluated after each one).
PURCHASE_KINDS = ("category_count", "product_count", "spend_above")
#: Conditions that change with time (evaluated by the program job).
SCHEDULED_KINDS = ("lapsed", "tier", "birthday_month")
#: Conditions that analyse behaviour: profiling unless the rule says otherwise.
PROFILING_KINDS = ("category_count", "product_count", "spend_above", "lapsed")
#: The shop's own product code (SKU) on a purchase line: a code, never personal data.
ProductCode = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]


class CategoryCount(ProgramPart):
    kind: Literal["category_count"]
    category: PlanCode
    times: Annotated[int, Field(strict=True, gt=0, le=10_000)]
    within_days: WindowDays


class ProductCount(ProgramPart):
    kind: Literal["product_count"]
    product: ProductCode
    times: Annotated[int, Field(strict=True, gt=0, le=10_000)]
    within_days: WindowDays


class SpendAbove(ProgramPart):
    kind: Literal["spend_above"]
    amount: Annotated[int, Field(strict=True, ge=0, le=10**12)] = Field(
        description="Spend must be above this, in minor units."
    )
    within_days: WindowDays


class Lapsed(ProgramPart):
    kind: Literal["lapsed"]
    days: WindowDays


class TierHeld(ProgramPart):
    kind: Literal["tier"]
    tier: PlanCode


class BirthdayMonth(ProgramPart):
    kind: Literal["birthday_month"]


Condition = Annotated[
    CategoryCount | ProductCount | SpendAbove | Lapsed | TierHeld | BirthdayMonth,
    Field(discriminator="kind"),
]


class OfferReward(ProgramPart):
    """Exactly one of: bonus points, a discount code, a reward of the catalogue."""

    bonus_points: Annotated[int, Field(strict=True, gt=0, le=10**9)] | None = None
    discount_code: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")] | None = None
    reward: PlanCode | None = None

    @model_validator(mode="after")
    def _check(self) -> OfferReward:
        given = [v for v in (self.bonus_points, self.discount_code, self.reward) if v is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of bonus_points, discount_code and reward")
        return self

    @property
    def kind(self) -> str:
        if self.bonus_points is not None:
            return "bonus_points"
        return "discount_code" if self.discount_code is not None else "reward"


class OfferRule(ProgramPart):
    code: PlanCode
    name: PlanName
    condition: Condition
    reward: OfferReward
    profiles: bool | None = Field(
        default=None,
        description="Whether evaluating it is profiling; default: true for behavioural rules.",
    )
    validity_days: Annotated[int, Field(strict=True, gt=0, le=3660)] = 14
    limit: Annotated[int, Field(strict=True, gt=0, le=1000)] = Field(
        default=1, description="At most this many offers of the rule per member per limit_period."
    )
    limit_period: LimitPeriod = "month"

    @property
    def is_profiling(self) -> bool:
        if self.profiles is not None:
            return self.profiles
        return self.condition.kind in PROFILING_KINDS

    @property
    def after_purchase(self) -> bool:
        return self.condition.kind in PURCHASE_KINDS


def fires(condition: Condition, facts: dict[str, Any]) -> bool:
    """Whether the facts gathered for ``condition`` meet it."""
    if isinstance(condition, CategoryCount | ProductCount):
        return int(facts["count"]) >= condition.times
    if isinstance(condition, SpendAbove):
        return int(facts["spend"]) > condition.amount
    if isinstance(condition, Lapsed):
        since = facts.get("days_since_last_purchase")
        return since is not None and int(since) >= condition.days
    if isinstance(condition, TierHeld):
        return facts.get("tier") == condition.tier
    return bool(facts.get("birthday_month"))


def _times(count: int) -> str:
    return "once" if count == 1 else "twice" if count == 2 else f"{count} times"


def money(amount: int, currency: str, exponent: int) -> str:
    """``123400`` DKK with exponent 2: ``1,234.00 DKK``."""
    units, minor = divmod(amount, 10**exponent)
    text = f"{units:,}" + (f".{minor:0{exponent}d}" if exponent else "")
    return f"{text} {currency}"


def reward_words(rule: OfferRule, reward_name: str | None = None) -> str:
    reward = rule.reward
    if reward.bonus_points is not None:
        return f"you get {reward.bonus_points:,} bonus points with your next purchase"
    if reward.discount_code is not None:
        return f"you get the discount code {reward.discount_code}"
    return f"you get {reward_name or reward.reward} for free"


def explain(
    rule: OfferRule,
    facts: dict[str, Any],
    *,
    currency: str,
    exponent: int,
    reward_name: str | None = None,
) -> str:
    """Why the member got the offer, in plain words, from the stored facts."""
    condition = rule.condition
    if isinstance(condition, CategoryCount | ProductCount):
        what = condition.category if isinstance(condition, CategoryCount) else condition.product
        why = (
            f"You bought {what} {_times(int(facts['count']))} "
            f"in the last {condition.within_days} days"
        )
    elif isinstance(condition, SpendAbove):
        why = (
            f"You spent {money(int(facts['spend']), currency, exponent)} in the last "
            f"{condition.within_days} days, more than "
            f"{money(condition.amount, currency, exponent)}"
        )
    elif isinstance(condition, Lapsed):
        why = f"We have not seen you for {int(facts['days_since_last_purchase'])} days"
    elif isinstance(condition, TierHeld):
        why = f"You are in the {facts['tier']} tier"
    else:
        why = "It is your birthday month"
    return f"{why}, so {reward_words(rule, reward_name)}."
