"""Tables of the loyalty program: configuration versions, tiers, bonuses,
refunds, store credit, rewards and vouchers, webhooks and expiry warnings.

Like node.store.models, every row references a customer only by the opaque
customer id; none holds personal data (the birthday index holds a keyed
digest of the birth month, never the date).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Text,
    text,
)
from sqlmodel import Field, SQLModel

from node.store.models import BigId, _time


class ProgramVersion(SQLModel, table=True):
    """One version of the program's rules; the newest in force at a time applies."""

    __tablename__ = "program_version"

    version: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    #: The whole program as canonical JSON (node.program.config.Program).
    config: str = Field(sa_column=Column(Text, nullable=False))
    actor: str = Field(sa_column=Column(String(100), nullable=False))
    comment: str | None = Field(default=None, sa_column=Column(String(200)))
    created_at: datetime = Field(sa_column=_time())


class CustomerTier(SQLModel, table=True):
    """A member's current tier and when it is next reviewed."""

    __tablename__ = "customer_tier"
    __table_args__ = (Index("ix_customer_tier_review", "review_at"),)

    customer_id: str = Field(
        sa_column=Column(String(40), ForeignKey("customer.id"), primary_key=True)
    )
    tier: str = Field(sa_column=Column(String(40), nullable=False))
    since: datetime = Field(sa_column=_time())
    review_at: datetime = Field(sa_column=_time())
    #: Set at a review that found the member below their tier: the day they drop.
    grace_until: datetime | None = Field(default=None, sa_column=_time(nullable=True))


class TierChange(SQLModel, table=True):
    """Tier history: every move up or down, with the figure that decided it."""

    __tablename__ = "tier_change"
    __table_args__ = (Index("ix_tier_change_customer", "customer_id", "id"),)

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    customer_id: str = Field(sa_column=Column(String(40), nullable=False))
    from_tier: str | None = Field(default=None, sa_column=Column(String(40)))
    to_tier: str = Field(sa_column=Column(String(40), nullable=False))
    reason: str = Field(sa_column=Column(String(20), nullable=False))
    qualifying_value: int = Field(sa_column=Column(BigInteger, nullable=False))
    program_version: int = Field(sa_column=Column(Integer, nullable=False))
    created_at: datetime = Field(sa_column=_time())


class PurchaseLine(SQLModel, table=True):
    """A purchase's amount per product category (and product), when the till sends lines."""

    __tablename__ = "purchase_line"
    #: Serves the product offer rule: a member's purchases probe (purchase, product).
    __table_args__ = (Index("ix_purchase_line_purchase_product", "purchase_id", "product"),)

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    purchase_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("purchase.id"), nullable=False, index=True)
    )
    category: str = Field(sa_column=Column(String(40), nullable=False))
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    #: The shop's product code (SKU) when the till sends one: a code, not personal data.
    product: str | None = Field(default=None, sa_column=Column(String(64)))


class Refund(SQLModel, table=True):
    """A refund or return against one purchase, and the points it took back."""

    __tablename__ = "refund"

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    public_id: str = Field(sa_column=Column(String(40), nullable=False, unique=True))
    purchase_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("purchase.id"), nullable=False, index=True)
    )
    customer_id: str = Field(sa_column=Column(String(40), nullable=False, index=True))
    transaction_id: int | None = Field(
        default=None, sa_column=Column(BigInteger, ForeignKey("ledger_transaction.id"))
    )
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    points: int = Field(sa_column=Column(BigInteger, nullable=False))
    #: The part of ``points`` the balance did not cover, now owed as debt.
    debt_points: int = Field(sa_column=Column(BigInteger, nullable=False))
    cashback: int = Field(sa_column=Column(BigInteger, nullable=False))
    debt_cashback: int = Field(sa_column=Column(BigInteger, nullable=False))
    reference: str | None = Field(default=None, sa_column=Column(String(200)))
    created_at: datetime = Field(sa_column=_time())


class BonusAward(SQLModel, table=True):
    """A once-only bonus that has been given (birthday per year, referral, enrolment)."""

    __tablename__ = "bonus_award"
    __table_args__ = (PrimaryKeyConstraint("customer_id", "kind", "period"),)

    customer_id: str = Field(sa_column=Column(String(40), nullable=False))
    kind: str = Field(sa_column=Column(String(30), nullable=False))
    #: What makes it once-only: the year for a birthday, "" for once ever.
    period: str = Field(sa_column=Column(String(40), nullable=False))
    points: int = Field(sa_column=Column(BigInteger, nullable=False))
    transaction_id: int | None = Field(
        default=None, sa_column=Column(BigInteger, ForeignKey("ledger_transaction.id"))
    )
    created_at: datetime = Field(sa_column=_time())


class Referral(SQLModel, table=True):
    """Who referred whom; rewarded once, after the referred member's first purchase."""

    __tablename__ = "referral"

    referred_id: str = Field(
        sa_column=Column(String(40), ForeignKey("customer.id"), primary_key=True)
    )
    referrer_id: str = Field(sa_column=Column(String(40), nullable=False, index=True))
    created_at: datetime = Field(sa_column=_time())
    rewarded_at: datetime | None = Field(default=None, sa_column=_time(nullable=True))


class BirthdayIndex(SQLModel, table=True):
    """A keyed digest of the birth month, so the birthday job needs no decryption."""

    __tablename__ = "birthday_index"

    customer_id: str = Field(
        sa_column=Column(String(40), ForeignKey("customer.id"), primary_key=True)
    )
    month_digest: str = Field(sa_column=Column(String(64), nullable=False, index=True))


class RewardStock(SQLModel, table=True):
    """How many of a catalogue reward have been issued (the limit is in the program)."""

    __tablename__ = "reward_stock"

    reward_code: str = Field(sa_column=Column(String(40), primary_key=True))
    issued: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))


class Voucher(SQLModel, table=True):
    """A single-use code for a redeemed reward: issued, then used or cancelled."""

    __tablename__ = "voucher"
    __table_args__ = (Index("ix_voucher_customer_reward", "customer_id", "reward_code"),)

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    code: str = Field(sa_column=Column(String(40), nullable=False, unique=True))
    reward_code: str = Field(sa_column=Column(String(40), nullable=False))
    customer_id: str = Field(sa_column=Column(String(40), nullable=False))
    points: int = Field(sa_column=Column(BigInteger, nullable=False))
    status: str = Field(sa_column=Column(String(20), nullable=False))
    transaction_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("ledger_transaction.id"), nullable=False)
    )
    refund_transaction_id: int | None = Field(
        default=None, sa_column=Column(BigInteger, ForeignKey("ledger_transaction.id"))
    )
    issued_at: datetime = Field(sa_column=_time())
    expires_at: datetime | None = Field(default=None, sa_column=_time(nullable=True))
    used_at: datetime | None = Field(default=None, sa_column=_time(nullable=True))
    used_reference: str | None = Field(default=None, sa_column=Column(String(200)))
    cancelled_at: datetime | None = Field(default=None, sa_column=_time(nullable=True))


class WebhookEndpoint(SQLModel, table=True):
    """Where the node sends program events; the signing secret is sealed."""

    __tablename__ = "webhook_endpoint"

    id: str = Field(sa_column=Column(String(40), primary_key=True))
    url: str = Field(sa_column=Column(String(500), nullable=False))
    #: JSON list of event types, e.g. ["tier.changed", "voucher.issued"].
    events: str = Field(sa_column=Column(Text, nullable=False))
    secret: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    enabled: bool = Field(default=True, sa_column=Column(Boolean, nullable=False))
    created_at: datetime = Field(sa_column=_time())


class WebhookEvent(SQLModel, table=True):
    """An event, written in the same transaction as the change it reports."""

    __tablename__ = "webhook_event"
    __table_args__ = (
        # Fan-out reads only events not yet fanned out.
        Index(
            "ix_webhook_event_pending",
            "id",
            postgresql_where=text("NOT fanned_out"),
            sqlite_where=text("NOT fanned_out"),
        ),
    )

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    public_id: str = Field(sa_column=Column(String(40), nullable=False, unique=True))
    type: str = Field(sa_column=Column(String(40), nullable=False))
    #: JSON; ids and figures only, never personal data.
    payload: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_column=_time())
    #: Set once deliveries to every subscribed endpoint have been queued.
    fanned_out: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))


class WebhookDelivery(SQLModel, table=True):
    """One event to one endpoint, with its retry state (persisted backoff)."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        Index("ix_webhook_delivery_due", "status", "next_attempt_at"),
        Index("ux_webhook_delivery", "event_id", "endpoint_id", unique=True),
    )

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    event_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("webhook_event.id"), nullable=False)
    )
    endpoint_id: str = Field(
        sa_column=Column(String(40), ForeignKey("webhook_endpoint.id"), nullable=False)
    )
    status: str = Field(sa_column=Column(String(20), nullable=False))
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    next_attempt_at: datetime = Field(sa_column=_time())
    last_error: str | None = Field(default=None, sa_column=Column(String(200)))
    delivered_at: datetime | None = Field(default=None, sa_column=_time(nullable=True))


class ExpiryWarning(SQLModel, table=True):
    """A lot whose coming expiry has been announced, so it is announced once."""

    __tablename__ = "expiry_warning"

    lot_id: int = Field(sa_column=Column(BigInteger, ForeignKey("point_lot.id"), primary_key=True))
    warned_at: datetime = Field(sa_column=_time())
