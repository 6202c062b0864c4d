"""Paid (VIP) membership plans as program configuration, and their pure rules.

A plan is part of the versioned program document (``[membership]`` with
``[[membership.plans]]``): a fee per month or year in money minor units, an
earn multiplier in percent, flags the till or web shop reads (free shipping,
early access, member prices), a grace period and a refund rule. The node
keeps each member's membership as rows (node.store.membership); the rules
here are pure arithmetic on times and integers, with no clock of their own.

Rules (docs/program.md, "Paid membership"):

- A period runs from ``period_start`` up to (not including) ``period_end``:
  one calendar month (the same day of the next month, clamped to its last
  day) or one year after its start, in UTC.
- Benefits hold while the membership is ``active`` (inside a paid period) and
  during the ``grace`` after a period ends unpaid; then it is ``lapsed``.
- The earn multiplier of a paid plan and the tier's do not add up: the
  larger applies, unless ``membership.stack_with_tiers`` is true; then the
  plan's extra percent is added to the tier's (110 % tier + 120 % plan = 130 %),
  as campaigns add theirs.
- Cancelling at once refunds nothing (``refund = "none"``) or the unused share
  of the fee paid for the current period (``"pro_rata"``): ``fee x seconds
  left / seconds in the period``, rounded down to whole minor units.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

PlanCode = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")]
PlanName = Annotated[
    str, Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f-\x9f]*\S[^\x00-\x1f]*$")
]
Flag = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")]
DayCount = Annotated[int, Field(strict=True, ge=0, le=3660)]

ACTIVE, GRACE, LAPSED, CANCELLED = "active", "grace", "lapsed", "cancelled"
#: States in which the plan's benefits hold.
BENEFIT_STATES = (ACTIVE, GRACE)


class ProgramPart(BaseModel):
    """Strict, frozen configuration (the same as the rest of the program)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class MembershipPlan(ProgramPart):
    code: PlanCode
    name: PlanName
    fee: Annotated[int, Field(strict=True, gt=0, le=10**9)] = Field(
        description="The fee per period, in minor units (øre, cents)."
    )
    interval: Literal["month", "year"] = "month"
    earn_multiplier_percent: Annotated[int, Field(strict=True, ge=100, le=10_000)] = Field(
        default=100, description="150 earns one and a half times (see stack_with_tiers)."
    )
    flags: list[Flag] = Field(
        default_factory=list,
        description="Codes the till or web shop reads, e.g. free-shipping, member-prices.",
    )
    grace_days: DayCount = Field(
        default=7, description="Days benefits continue after a period ends unpaid."
    )
    renewal_notice_days: DayCount = Field(
        default=7, description="membership.renewal_due is sent this many days before period end."
    )
    refund: Literal["none", "pro_rata"] = Field(
        default="none", description="What cancelling at once gives back."
    )


class MembershipRules(ProgramPart):
    stack_with_tiers: bool = Field(
        default=False,
        description="False: the better of the tier and plan multipliers applies; true: both add.",
    )
    plans: list[MembershipPlan] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> MembershipRules:
        codes = [plan.code for plan in self.plans]
        if len(set(codes)) != len(codes):
            raise ValueError("plans: plan codes must be unique")
        return self

    def plan(self, code: str | None) -> MembershipPlan | None:
        return next((plan for plan in self.plans if plan.code == code), None)


def add_interval(start: datetime, interval: str) -> datetime:
    """The end of a period that begins at ``start`` (months clamp to their last day)."""
    months = 12 if interval == "year" else 1
    year, month = divmod(start.year * 12 + start.month - 1 + months, 12)
    day = min(start.day, calendar.monthrange(year, month + 1)[1])
    return start.replace(year=year, month=month + 1, day=day)


def pro_rata_refund(
    *, paid: int, period_start: datetime, period_end: datetime, at: datetime
) -> int:
    """The unused share of ``paid`` at ``at``, rounded down (whole microseconds)."""
    if at >= period_end:
        return 0
    total = (period_end - period_start) // timedelta(microseconds=1)
    left = (period_end - max(at, period_start)) // timedelta(microseconds=1)
    return paid * left // total if total > 0 else 0


def member_percent(tier_percent: int, plan_percent: int, *, stack: bool) -> int:
    """The percent a purchase earns at, from the tier's and the paid plan's."""
    if stack:
        return tier_percent + plan_percent - 100
    return max(tier_percent, plan_percent)


@dataclass(frozen=True)
class MembershipTimes:
    """What the state machine needs of a stored membership."""

    state: str
    period_end: datetime
    cancel_at_period_end: bool


def state_at(membership: MembershipTimes, *, grace_days: int, moment: datetime) -> str:
    """The state at ``moment`` by the clock alone (the job writes it down later).

    ``lapsed`` and ``cancelled`` are final for this membership; a payment starts
    a new period.
    """
    if membership.state in (LAPSED, CANCELLED):
        return membership.state
    if moment < membership.period_end:
        return ACTIVE
    if membership.cancel_at_period_end:
        return CANCELLED
    if moment < membership.period_end + timedelta(days=grace_days):
        return GRACE
    return LAPSED


def benefits_until(membership: MembershipTimes, *, grace_days: int) -> datetime:
    """The moment benefits stop if nothing more is paid."""
    if membership.cancel_at_period_end:
        return membership.period_end
    return membership.period_end + timedelta(days=grace_days)
