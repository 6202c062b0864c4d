"""Request and response bodies of the operator and customer APIs.

Requests are strict: unknown fields are refused, integers must be JSON
integers (no floats, strings or booleans), and every amount has bounds.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from node.services.personal_data import PersonalData

MAX_AMOUNT = 10**12

#: Any printable text (æ, ø and å included), not only spaces; no control characters.
Reference = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        pattern=r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$",
    ),
]
PositiveAmount = Annotated[int, Field(strict=True, gt=0, le=MAX_AMOUNT)]


class StrictBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class EnrolRequest(PersonalData):
    """Personal fields are optional and stored encrypted; none is ever logged."""


class LookupRequest(StrictBody):
    email: Annotated[str, Field(min_length=3, max_length=320)]


class PurchaseRequest(StrictBody):
    amount: PositiveAmount = Field(description="Amount paid, in minor units (øre, cents).")
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] | None = Field(
        default=None, description="ISO 4217 code; defaults to the node's currency."
    )
    order_ref: Reference | None = Field(default=None, description="The till's own order id.")


class RedemptionRequest(StrictBody):
    points: PositiveAmount
    reference: Reference | None = None


class HistoryQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=50, ge=1, le=500)
    cursor: Annotated[str, Field(max_length=100)] | None = None


class CustomerOut(BaseModel):
    id: str
    status: str
    enrolled_at: datetime


class BalanceOut(BaseModel):
    customer_id: str
    points: int
    expiring_points: int = Field(description="Points that expire at next_expiry.")
    next_expiry: datetime | None


class TransactionOut(BaseModel):
    id: str
    kind: str
    points: int = Field(description="Change to the customer's balance (negative when spent).")
    reference: str | None
    created_at: datetime


class PurchaseOut(BaseModel):
    amount: int
    currency: str
    order_ref: str | None


class EarnOut(BaseModel):
    customer_id: str
    transaction: TransactionOut
    purchase: PurchaseOut
    balance: int


class RedemptionOut(BaseModel):
    customer_id: str
    transaction: TransactionOut
    balance: int


class HistoryOut(BaseModel):
    items: list[TransactionOut]
    next_cursor: str | None


class TokenOut(BaseModel):
    token: str
    token_type: str = "Bearer"
    expires_at: datetime


class LookupOut(BaseModel):
    customer_id: str


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None


class ErrorOut(BaseModel):
    error: ErrorDetail


# KPIs (node/routes/kpis.py)

KpiPeriod = Literal["day", "week", "month", "quarter", "year"]


def _iso_date(value: object) -> object:
    """Query dates are exactly YYYY-MM-DD (no times, no Unix timestamps)."""
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise PydanticCustomError("date_format", "a date as YYYY-MM-DD")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date)]


class KpiQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    from_: IsoDate = Field(alias="from", description="First day of the report (inclusive).")
    to: IsoDate = Field(description="Day after the report's last day (exclusive).")
    period: KpiPeriod = Field(default="month", description="Bucket size: calendar periods.")
    tz: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_+\-/]+$")] = Field(
        default="UTC", description="IANA time zone the calendar is read in."
    )


class RatioOut(BaseModel):
    value: int | None = Field(description="numerator / denominator, rounded down; null on 0.")
    numerator: int
    denominator: int


class KpiFiguresOut(BaseModel):
    enrolments: int
    active_members: int
    retention_rate: RatioOut = Field(description="Basis points (4567 = 45.67 %).")
    redemption_rate: RatioOut = Field(description="Basis points.")
    average_order_value: RatioOut = Field(description="Minor units.")
    customer_lifetime_value: RatioOut = Field(description="Minor units.")
    engagement: RatioOut = Field(description="Transactions per active member x 10 000.")


class KpiBucketOut(BaseModel):
    """One bucket: local dates [start, end) in the report's time zone, and its KPIs."""

    start: date
    end: date
    enrolments: int
    active_members: int
    retention_rate: RatioOut
    redemption_rate: RatioOut
    average_order_value: RatioOut
    customer_lifetime_value: RatioOut
    engagement: RatioOut


class KpiReportOut(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True, validate_by_name=True)

    period: KpiPeriod
    from_: date = Field(alias="from")
    to: date
    tz: str
    buckets: list[KpiBucketOut]
    totals: KpiFiguresOut
    definitions: dict[str, str]
