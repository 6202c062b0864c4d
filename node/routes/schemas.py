"""Request and response bodies of the operator and customer APIs.

Requests are strict: unknown fields are refused, integers must be JSON
integers (no floats, strings or booleans), and every amount has bounds.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from node.program.offers import ProductCode
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

    referred_by: Annotated[str, Field(min_length=1, max_length=40)] | None = Field(
        default=None, description="The id of the member who referred this one."
    )
    consents: (
        dict[Annotated[str, Field(max_length=40)], Annotated[bool, Field(strict=True)]] | None
    ) = Field(
        default=None,
        description='Consent answers given at enrolment, e.g. {"marketing": true}.',
        max_length=50,
    )


class LookupRequest(StrictBody):
    email: Annotated[str, Field(min_length=3, max_length=320)]


Category = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")]


class PurchaseLineIn(StrictBody):
    category: Category | None = Field(default=None, description="Product category, e.g. coffee.")
    amount: PositiveAmount
    product: ProductCode | None = Field(
        default=None, description="The shop's product code (SKU), e.g. BEANS-ETH-250."
    )


class PurchaseRequest(StrictBody):
    amount: PositiveAmount = Field(description="Amount paid, in minor units (øre, cents).")
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] | None = Field(
        default=None, description="ISO 4217 code; defaults to the node's currency."
    )
    order_ref: Reference | None = Field(default=None, description="The till's own order id.")
    lines: Annotated[list[PurchaseLineIn], Field(min_length=1, max_length=200)] | None = Field(
        default=None,
        description="The amount per product category (and product), for category multipliers,"
        " campaigns and offer rules; must add up to amount.",
    )
    occurred_at: AwareDatetime | None = Field(
        default=None,
        description="When the purchase happened, if not now (an offline till sending later);"
        " at most 90 days ago.",
    )


class RefundRequest(StrictBody):
    transaction_id: Annotated[str, Field(min_length=1, max_length=40)] | None = Field(
        default=None, description="The earn transaction's id, as the purchase answer gave it."
    )
    order_ref: Reference | None = Field(
        default=None, description="Or the till's order id (when unique for the member)."
    )
    amount: PositiveAmount = Field(description="Amount refunded, in minor units.")
    reference: Reference | None = Field(default=None, description="The till's refund id.")


class StoreCreditSpendRequest(StrictBody):
    amount: PositiveAmount = Field(description="Store credit to pay with, in minor units.")
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] | None = None
    reference: Reference | None = None


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
    debt: int = Field(
        default=0, description="Points owed from refunds; the next earnings repay them first."
    )


class RefundDetailOut(BaseModel):
    id: str
    transaction_id: str | None
    purchase_transaction_id: str
    amount: int
    points: int = Field(description="Points taken back.")
    debt_points: int = Field(description="Of those, the points the balance did not cover.")
    cashback: int
    debt_cashback: int
    reference: str | None
    created_at: datetime


class RefundOut(BaseModel):
    customer_id: str
    refund: RefundDetailOut
    balance: int
    debt: int


class StoreCreditOut(BaseModel):
    customer_id: str
    currency: str
    balance: int = Field(description="Store credit in minor units.")
    debt: int = Field(description="Store credit owed from refunds, in minor units.")


class StoreCreditTransactionOut(BaseModel):
    id: str
    kind: str
    amount: int
    currency: str
    reference: str | None
    created_at: datetime


class StoreCreditSpendOut(BaseModel):
    customer_id: str
    transaction: StoreCreditTransactionOut
    balance: int


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


class EarningOut(BaseModel):
    program_version: int = Field(description="The program version the purchase earned under.")
    base_points: int = Field(description="What the base rate and categories alone give.")
    points: int = Field(description="Points earned, tier and campaigns included.")
    tier: str | None = Field(description="The tier held when paying.")
    tier_percent: int
    campaigns: list[str] = Field(description="Campaigns that added points.")
    cashback: int = Field(description="Store credit earned, in minor units.")
    new_tier: str | None = Field(description="The tier this purchase moved the member up to.")


class EarnOut(BaseModel):
    customer_id: str
    transaction: TransactionOut
    purchase: PurchaseOut
    earning: EarningOut
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


# -- rewards and vouchers (node.routes.rewards) ----------------------------------

RewardCode = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")]


class VoucherRequest(StrictBody):
    reward: RewardCode = Field(description="The code of a reward in the program's catalogue.")


class VoucherUseRequest(StrictBody):
    reference: Reference | None = Field(
        default=None, description="The till's own sale or order id, kept with the voucher."
    )


class RewardOut(BaseModel):
    code: str
    name: str
    points: int
    stock: int | None = Field(description="How many can ever be issued; null: unlimited.")
    stock_left: int | None = Field(description="How many can still be issued; null: unlimited.")
    per_customer_limit: int | None
    available_from: datetime | None
    available_until: datetime | None
    voucher_valid_days: int | None
    tiers: list[str] = Field(description="Member-only: only these tiers; empty means everyone.")


class RewardsOut(BaseModel):
    items: list[RewardOut]


class MemberRewardOut(RewardOut):
    limit_left: int | None = Field(
        description="How many more vouchers of this reward the member may get; null: no limit."
    )


class MemberRewardsOut(BaseModel):
    customer_id: str
    tier: str | None
    items: list[MemberRewardOut]


class VoucherOut(BaseModel):
    code: str = Field(description="The single-use code; a bearer secret.")
    status: str = Field(description="issued, used, cancelled or expired.")
    reward: str
    reward_name: str | None = Field(description="Null if the reward left the program.")
    customer_id: str
    points: int
    issued_at: datetime
    expires_at: datetime | None
    used_at: datetime | None
    used_reference: str | None
    cancelled_at: datetime | None


class VoucherIssuedOut(BaseModel):
    customer_id: str
    voucher: VoucherOut
    transaction: TransactionOut
    balance: int


class VoucherCancelledOut(VoucherIssuedOut):
    pass


class VouchersOut(BaseModel):
    items: list[VoucherOut]
    next_cursor: str | None


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


# -- Webhooks and expiring points (node/routes/webhooks.py, node/routes/expiring.py) --


class WebhookRequest(StrictBody):
    url: Annotated[str, Field(min_length=1, max_length=500)] = Field(
        description="Absolute http:// or https:// URL the node POSTs events to."
    )
    events: Annotated[list[Annotated[str, Field(max_length=40)]], Field(max_length=20)] = Field(
        description="Event types to send: customer.enrolled, tier.changed, points.expiring, "
        "voucher.issued."
    )


class WebhookOut(BaseModel):
    id: str
    url: str
    events: list[str]
    enabled: bool
    created_at: datetime


class WebhookCreatedOut(WebhookOut):
    secret: str = Field(description="Signing secret (whsec_...); shown only in this answer.")


class WebhookDisabledOut(WebhookOut):
    cancelled_deliveries: int


class WebhookListOut(BaseModel):
    items: list[WebhookOut]


class WebhookSecretOut(BaseModel):
    id: str
    secret: str = Field(description="The new signing secret; shown only in this answer.")
    previous_secret_valid_until: datetime = Field(
        description="Until then deliveries are signed with the old secret too."
    )


class DeliveryQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["pending", "delivered", "failed", "cancelled"] | None = None
    endpoint_id: Annotated[str, Field(max_length=40)] | None = None
    limit: int = Field(default=50, ge=1, le=500)
    cursor: Annotated[str, Field(max_length=100)] | None = None


class DeliveryOut(BaseModel):
    id: str
    event_id: str
    event_type: str
    event_created_at: datetime
    endpoint_id: str
    status: str
    attempts: int
    next_attempt_at: datetime | None = Field(description="Set while the delivery is pending.")
    last_error: str | None = Field(description="HTTP status or error class of the last failure.")
    delivered_at: datetime | None


class DeliveryListOut(BaseModel):
    items: list[DeliveryOut]
    next_cursor: str | None


class ExpiringQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    within_days: int = Field(default=30, ge=1, le=3660)
    limit: int = Field(default=100, ge=1, le=500)
    cursor: Annotated[str, Field(max_length=200)] | None = None


class MemberExpiringQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    within_days: int = Field(default=30, ge=1, le=3660)
    limit: int = Field(default=100, ge=1, le=500)


class ExpiringCustomerOut(BaseModel):
    customer_id: str
    points: int = Field(description="Points expiring within the window.")
    expires_at: datetime = Field(description="The earliest of their expiry times.")


class ExpiringListOut(BaseModel):
    items: list[ExpiringCustomerOut]
    next_cursor: str | None


class ExpiringLotOut(BaseModel):
    points: int
    earned_at: datetime
    expires_at: datetime


class MemberExpiringOut(BaseModel):
    customer_id: str
    within_days: int
    points: int = Field(description="All points expiring within the window.")
    lots: list[ExpiringLotOut] = Field(description="Soonest first, at most `limit`.")


# -- paid membership and engagement (node.routes.memberships, node.routes.engagement) --


class MembershipPaymentRequest(StrictBody):
    plan: Category = Field(description="The plan's code in the program.")
    amount: PositiveAmount = Field(description="The fee paid, in minor units; the plan's fee.")
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] | None = None
    reference: Reference | None = Field(default=None, description="The payment's own reference.")
    period: AwareDatetime | None = Field(
        default=None, description="The start of the period this pays for (a guard); optional."
    )


class MembershipCancelRequest(StrictBody):
    at_once: bool = Field(
        default=False, description="True: end now, with the plan's refund; else at period end."
    )


class MembershipChangeOut(BaseModel):
    change: str
    plan: str
    period_start: datetime
    period_end: datetime
    amount: int | None
    at: datetime


class MembershipOut(BaseModel):
    customer_id: str
    state: str = Field(description="none, active, grace, lapsed or cancelled.")
    benefits: bool
    plan: str | None
    started_at: datetime | None
    period_start: datetime | None
    period_end: datetime | None
    cancel_at_period_end: bool
    benefits_until: datetime | None
    earn_multiplier_percent: int
    flags: list[str]
    history: list[MembershipChangeOut] | None = None
    refund: int | None = None
    effective_at: datetime | None = None


class ActionRequest(StrictBody):
    type: Category = Field(description="The action type's code in the program.")
    occurred_at: AwareDatetime | None = None
    reference: Reference | None = None


class ActionOut(BaseModel):
    customer_id: str
    action: dict[str, object]
    transaction: TransactionOut
    challenges_completed: list[str]
    balance: int


class ChallengeOut(BaseModel):
    code: str
    name: str
    goal: str
    action: str | None
    target: int
    starts_at: datetime
    ends_at: datetime
    running: bool
    progress: int
    completed_at: datetime | None
    reward_points: int


class ChallengesOut(BaseModel):
    customer_id: str
    items: list[ChallengeOut]
