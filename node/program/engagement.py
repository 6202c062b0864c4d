"""Engagement as program configuration: action types and challenges, and their pure rules.

- An **action type** (``[[actions]]``) is something a member does besides
  buying, that the shop reports through the operator API: a product review, a
  survey answered, a social follow, an event attended. It earns ``points``,
  at most ``cap`` times per member per ``cap_period`` (a UTC calendar day,
  ISO week, month or year; no cap when ``cap`` is left out).
- A **challenge** (``[[challenges]]``) is a goal over a period, from
  ``starts_at`` up to ``ends_at``: a number of visits (purchases), of
  distinct product categories bought, of actions of one type, or an amount
  spent (minor units). Progress counts purchases and actions made in the
  period; reaching ``target`` pays ``reward_points`` once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, model_validator

from node.program.membership import PlanCode, PlanName, ProgramPart

CapPeriod = Literal["day", "week", "month", "year"]
Goal = Literal["visits", "categories", "actions", "spend"]


class ActionType(ProgramPart):
    code: PlanCode
    name: PlanName
    points: Annotated[int, Field(strict=True, gt=0, le=10**9)]
    cap: Annotated[int, Field(strict=True, gt=0, le=10**6)] | None = Field(
        default=None, description="At most this many per member per cap_period; none: no cap."
    )
    cap_period: CapPeriod = "day"
    category: PlanCode | None = Field(
        default=None, description="A grouping for your own reports (review, social, event)."
    )


class Challenge(ProgramPart):
    code: PlanCode
    name: PlanName
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    goal: Goal
    target: Annotated[int, Field(strict=True, gt=0, le=10**12)]
    action: PlanCode | None = Field(
        default=None, description="For goal actions: the action type that counts."
    )
    reward_points: Annotated[int, Field(strict=True, gt=0, le=10**9)]

    @model_validator(mode="after")
    def _check(self) -> Challenge:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        if self.goal == "actions" and self.action is None:
            raise ValueError("a challenge with goal actions needs action")
        if self.goal != "actions" and self.action is not None:
            raise ValueError("only a challenge with goal actions takes action")
        return self

    def running_at(self, moment: datetime) -> bool:
        return self.starts_at <= moment < self.ends_at


def cap_period_key(period: str, moment: datetime) -> str:
    """The UTC calendar period ``moment`` falls in: 2026-03-07, 2026-W10, 2026-03, 2026."""
    moment = moment.astimezone(UTC)
    # f-strings, not strftime: this runs on every purchase (offers, challenges).
    if period == "day":
        return f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
    if period == "week":
        year, week, _ = moment.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "month":
        return f"{moment.year:04d}-{moment.month:02d}"
    return f"{moment.year:04d}"
