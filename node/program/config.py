"""The loyalty program a business configures, as one validated document.

A :class:`Program` is plain data: earn rules, campaigns, tiers, bonuses,
cashback, expiry and the rewards catalogue. It comes from a TOML file
(``konsort program apply``) or JSON (``PUT /api/v1/program``), is validated
here with errors that name the field, and is stored as a numbered version
(node.services.program). Every figure is an integer: amounts in minor units
(øre, cents), multipliers in percent (150 = 1.5x), cashback in basis points
(250 = 2.5 %). docs/program.md explains each rule with worked examples.
"""

from __future__ import annotations

import json
import re
import tomllib
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from node.errors import ValidationFailed
from node.program.engagement import ActionType, Challenge
from node.program.membership import MembershipRules
from node.program.offers import OfferRule, TierHeld

Code = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")]
Name = Annotated[
    str, Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f-\x9f]*\S[^\x00-\x1f]*$")
]
Percent = Annotated[int, Field(strict=True, ge=0, le=10_000)]
Points = Annotated[int, Field(strict=True, ge=0, le=10**9)]
Amount = Annotated[int, Field(strict=True, ge=0, le=10**12)]
Days = Annotated[int, Field(strict=True, ge=0, le=36_500)]
Benefit = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")]

#: Event types a webhook can subscribe to (node.services.webhooks).
EVENT_TYPES = (
    "customer.enrolled",
    "tier.changed",
    "points.expiring",
    "voucher.issued",
    "membership.started",
    "membership.renewal_due",
    "membership.lapsed",
    "membership.cancelled",
    "challenge.completed",
    "offer.issued",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class EarnRules(_Strict):
    points_per_unit: Annotated[int, Field(strict=True, ge=0, le=10_000)] = Field(
        default=1, description="Points per whole currency unit (per krone, per euro)."
    )
    minimum_purchase: Amount = Field(
        default=0, description="Purchases below this amount (minor units) earn nothing."
    )
    categories: dict[Code, Percent] = Field(
        default_factory=dict,
        description="Multiplier in percent per product category; others earn 100 %.",
    )


class Campaign(_Strict):
    code: Code
    name: Name
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    kind: Literal["multiplier", "fixed"]
    multiplier_percent: Annotated[int, Field(strict=True, gt=100, le=10_000)] | None = Field(
        default=None, description="For kind multiplier: 200 doubles the base points."
    )
    bonus_points: Annotated[int, Field(strict=True, gt=0, le=10**9)] | None = Field(
        default=None, description="For kind fixed: points added once per qualifying purchase."
    )
    categories: list[Code] = Field(
        default_factory=list, description="Only these categories; empty means everything."
    )
    tiers: list[Code] = Field(
        default_factory=list, description="Member-only: only these tiers; empty means everyone."
    )
    minimum_purchase: Amount = 0
    stackable: bool = Field(
        default=True, description="False: applies alone (the best non-stackable one wins)."
    )

    @model_validator(mode="after")
    def _check(self) -> Campaign:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        if self.kind == "multiplier" and self.multiplier_percent is None:
            raise ValueError("a multiplier campaign needs multiplier_percent")
        if self.kind == "fixed" and self.bonus_points is None:
            raise ValueError("a fixed campaign needs bonus_points")
        if self.kind == "multiplier" and self.bonus_points is not None:
            raise ValueError("a multiplier campaign takes no bonus_points")
        if self.kind == "fixed" and self.multiplier_percent is not None:
            raise ValueError("a fixed campaign takes no multiplier_percent")
        return self

    def active_at(self, moment: datetime) -> bool:
        return self.starts_at <= moment < self.ends_at


class Tier(_Strict):
    code: Code
    name: Name
    threshold: Amount = Field(
        description="Qualifying spend (minor units) or points over the window to reach it."
    )
    multiplier_percent: Percent = 100
    benefits: list[Benefit] = Field(default_factory=list)


class TierRules(_Strict):
    basis: Literal["spend", "points"] = "spend"
    window_days: Annotated[int, Field(strict=True, ge=1, le=3660)] = 365
    review_interval_days: Annotated[int, Field(strict=True, ge=1, le=3660)] = 30
    grace_days: Days = 30
    levels: list[Tier] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> TierRules:
        if not self.levels:
            return self
        if self.levels[0].threshold != 0:
            raise ValueError("the first tier is the entry tier: its threshold must be 0")
        thresholds = [level.threshold for level in self.levels]
        if any(b <= a for a, b in zip(thresholds, thresholds[1:], strict=False)):
            raise ValueError("tier thresholds must rise strictly, lowest first")
        codes = [level.code for level in self.levels]
        if len(set(codes)) != len(codes):
            raise ValueError("tier codes must be unique")
        return self

    def level(self, code: str | None) -> Tier | None:
        return next((level for level in self.levels if level.code == code), None)

    def qualifying(self, value: int) -> Tier | None:
        """The highest tier whose threshold ``value`` reaches."""
        found = None
        for level in self.levels:
            if value >= level.threshold:
                found = level
        return found

    def rank(self, code: str | None) -> int:
        for index, level in enumerate(self.levels):
            if level.code == code:
                return index
        return -1


class Bonuses(_Strict):
    enrolment_points: Points = 0
    birthday_points: Points = 0
    referrer_points: Points = Field(default=0, description="To the member who referred.")
    referred_points: Points = Field(default=0, description="To the new member referred.")


class Cashback(_Strict):
    basis_points: Annotated[int, Field(strict=True, ge=0, le=10_000)] = Field(
        default=0, description="Store credit per purchase, in 1/100 of a percent of the amount."
    )
    minimum_purchase: Amount = 0


class Expiry(_Strict):
    days: Days = Field(default=365, description="Points expire this many days after earning.")
    warn_days: Days = Field(default=30, description="Announce expiry this many days ahead.")


class Reward(_Strict):
    code: Code
    name: Name
    points: Annotated[int, Field(strict=True, gt=0, le=10**9)]
    stock: Annotated[int, Field(strict=True, ge=0, le=10**9)] | None = Field(
        default=None, description="How many can ever be issued; none means unlimited."
    )
    per_customer_limit: Annotated[int, Field(strict=True, gt=0, le=10**6)] | None = None
    available_from: AwareDatetime | None = None
    available_until: AwareDatetime | None = None
    voucher_valid_days: Annotated[int, Field(strict=True, gt=0, le=3660)] | None = Field(
        default=None, description="Vouchers expire this many days after issue."
    )
    tiers: list[Code] = Field(
        default_factory=list, description="Member-only: only these tiers; empty means everyone."
    )
    partner_offer: bool = Field(
        default=False,
        description="Also offered to partner customers, who pay in their own node's points.",
    )
    plans: list[Code] = Field(
        default_factory=list,
        description="Paid members only: only holders of these plans; empty means everyone.",
    )

    @model_validator(mode="after")
    def _check(self) -> Reward:
        if (
            self.available_from is not None
            and self.available_until is not None
            and self.available_until <= self.available_from
        ):
            raise ValueError("available_until must be after available_from")
        return self

    def available_at(self, moment: datetime) -> bool:
        if self.available_from is not None and moment < self.available_from:
            return False
        return self.available_until is None or moment < self.available_until


class Program(_Strict):
    earn: EarnRules = Field(default_factory=EarnRules)
    campaigns: list[Campaign] = Field(default_factory=list)
    tiers: TierRules = Field(default_factory=TierRules)
    bonuses: Bonuses = Field(default_factory=Bonuses)
    cashback: Cashback = Field(default_factory=Cashback)
    expiry: Expiry = Field(default_factory=Expiry)
    rewards: list[Reward] = Field(default_factory=list)
    membership: MembershipRules = Field(default_factory=MembershipRules)
    actions: list[ActionType] = Field(default_factory=list)
    challenges: list[Challenge] = Field(default_factory=list)
    offers: list[OfferRule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> Program:
        _unique("campaigns", [c.code for c in self.campaigns])
        _unique("rewards", [r.code for r in self.rewards])
        tier_codes = {level.code for level in self.tiers.levels}
        for index, campaign in enumerate(self.campaigns):
            for code in campaign.tiers:
                if code not in tier_codes:
                    raise ValueError(f"campaigns.{index}.tiers: no tier {code!r}")
        for index, reward in enumerate(self.rewards):
            for code in reward.tiers:
                if code not in tier_codes:
                    raise ValueError(f"rewards.{index}.tiers: no tier {code!r}")
        _check_engagement(self)
        _check_offers(self)
        return self

    def action(self, code: str) -> ActionType | None:
        return next((action for action in self.actions if action.code == code), None)

    def reward(self, code: str) -> Reward | None:
        return next((reward for reward in self.rewards if reward.code == code), None)

    def to_json(self) -> str:
        """Canonical JSON, as stored in ``program_version.config``."""
        return json.dumps(
            self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )


def _check_engagement(program: Program) -> None:
    """Paid plans, action types and challenges refer to each other by code."""
    _unique("actions", [a.code for a in program.actions])
    _unique("challenges", [c.code for c in program.challenges])
    plans = {plan.code for plan in program.membership.plans}
    for index, reward in enumerate(program.rewards):
        for code in reward.plans:
            if code not in plans:
                raise ValueError(f"rewards.{index}.plans: no plan {code!r}")
    actions = {action.code for action in program.actions}
    for index, challenge in enumerate(program.challenges):
        if challenge.action is not None and challenge.action not in actions:
            raise ValueError(f"challenges.{index}.action: no action {challenge.action!r}")


def _check_offers(program: Program) -> None:
    """Offer rules name tiers and rewards of the program by code."""
    _unique("offers", [o.code for o in program.offers])
    tiers = {level.code for level in program.tiers.levels}
    for index, rule in enumerate(program.offers):
        condition = rule.condition
        if isinstance(condition, TierHeld) and condition.tier not in tiers:
            raise ValueError(f"offers.{index}.condition.tier: no tier {condition.tier!r}")
        if rule.reward.reward is not None and program.reward(rule.reward.reward) is None:
            raise ValueError(f"offers.{index}.reward.reward: no reward {rule.reward.reward!r}")


def _unique(where: str, codes: list[str]) -> None:
    seen: set[str] = set()
    for code in codes:
        if code in seen:
            raise ValueError(f"{where}: code {code!r} is used twice")
        seen.add(code)


def parse_program(data: Any) -> Program:
    """Validate a program from decoded JSON or TOML, or raise ValidationFailed."""
    if not isinstance(data, dict):
        raise ValidationFailed("the program must be an object")
    try:
        # TOML and JSON both give text for datetimes in JSON, so allow
        # conversion for those fields only by going through JSON mode.
        return Program.model_validate_json(json.dumps(data, default=_json_default))
    except ValidationError as exc:
        raise _program_error(exc) from None


def load_program_file(text: str) -> Program:
    """A program from the text of a TOML file."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValidationFailed(f"the program file is not valid TOML: {exc}") from None
    return parse_program(data)


def program_from_json(stored: str) -> Program:
    return Program.model_validate_json(stored)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()  # one without an offset is refused by its field
    raise ValidationFailed(f"{type(value).__name__} values are not allowed in a program")


def _program_error(exc: ValidationError) -> ValidationFailed:
    first = exc.errors(include_url=False, include_input=False)[0]
    # pydantic marks a bad dict key with a "[key]" step after the key itself.
    where = ".".join(str(part) for part in first["loc"] if part != "[key]") or None
    message = str(first["msg"])
    if first["type"] == "extra_forbidden":
        message = "unknown field"
    elif first["type"] == "string_pattern_mismatch":
        message = "use lowercase letters, digits, - and _ (at most 40)"
    elif first["type"] == "timezone_aware":
        message = "give the time with a UTC offset, e.g. 2026-12-01T00:00:00Z"
    message = message.removeprefix("Value error, ")
    # Checks across fields name their path at the start of the message.
    head, sep, rest = message.partition(": ")
    if sep and _PATH.match(head):
        where = f"{where}.{head}" if where else head
        message = rest
    return ValidationFailed(f"{where}: {message}" if where else message, field=where)


_PATH = re.compile(r"^[a-z_]+(\.[a-z0-9_-]+)*$")
