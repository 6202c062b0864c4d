"""Tables of paid membership and engagement: memberships, their history and
payments, engagement actions and challenge progress.

Rows reference a customer only by the opaque customer id; none holds personal
data. ``membership_change`` and ``membership_payment`` are append-only
history (fee revenue is money in minor units, never points).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    PrimaryKeyConstraint,
    String,
)
from sqlmodel import Field, SQLModel

from node.store.models import BigId, _time


class Membership(SQLModel, table=True):
    """A member's paid plan now: its state and current period."""

    __tablename__ = "membership"
    __table_args__ = (Index("ix_membership_period_end", "period_end"),)

    customer_id: str = Field(
        sa_column=Column(String(40), ForeignKey("customer.id"), primary_key=True)
    )
    plan: str = Field(sa_column=Column(String(40), nullable=False))
    #: active | grace | lapsed | cancelled, as last written (reads derive it by the clock).
    state: str = Field(sa_column=Column(String(20), nullable=False))
    started_at: datetime = Field(sa_column=_time())
    period_start: datetime = Field(sa_column=_time())
    period_end: datetime = Field(sa_column=_time())
    cancel_at_period_end: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    #: The period end a ``membership.renewal_due`` event was sent for.
    renewal_notice_for: datetime | None = Field(default=None, sa_column=_time(nullable=True))
    updated_at: datetime = Field(sa_column=_time())


class MembershipChange(SQLModel, table=True):
    """Membership history: every start, renewal, grace, lapse, cancel and resume."""

    __tablename__ = "membership_change"
    __table_args__ = (Index("ix_membership_change_customer", "customer_id", "id"),)

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    customer_id: str = Field(sa_column=Column(String(40), nullable=False))
    plan: str = Field(sa_column=Column(String(40), nullable=False))
    change: str = Field(sa_column=Column(String(20), nullable=False))
    period_start: datetime = Field(sa_column=_time())
    period_end: datetime = Field(sa_column=_time())
    #: Money paid (+) or refunded (-) with this change, in minor units.
    amount: int | None = Field(default=None, sa_column=Column(BigInteger))
    created_at: datetime = Field(sa_column=_time())


class MembershipPayment(SQLModel, table=True):
    """A fee paid outside Konsort (amount > 0) or refunded (amount < 0), as money."""

    __tablename__ = "membership_payment"
    __table_args__ = (
        Index("ix_membership_payment_customer", "customer_id", "period_start"),
        Index("ix_membership_payment_created", "created_at"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    customer_id: str = Field(sa_column=Column(String(40), nullable=False))
    plan: str = Field(sa_column=Column(String(40), nullable=False))
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(sa_column=Column(String(3), nullable=False))
    reference: str | None = Field(default=None, sa_column=Column(String(200)))
    period_start: datetime = Field(sa_column=_time())
    period_end: datetime = Field(sa_column=_time())
    created_at: datetime = Field(sa_column=_time())


class CustomerAction(SQLModel, table=True):
    """An engagement action the shop reported, and the points it earned."""

    __tablename__ = "customer_action"
    __table_args__ = (Index("ix_customer_action_cap", "customer_id", "action_type", "period_key"),)

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    public_id: str = Field(sa_column=Column(String(40), nullable=False, unique=True))
    customer_id: str = Field(sa_column=Column(String(40), nullable=False))
    action_type: str = Field(sa_column=Column(String(40), nullable=False))
    #: The cap's calendar period (UTC): 2026-03-07, 2026-W10, 2026-03 or 2026.
    period_key: str = Field(sa_column=Column(String(20), nullable=False))
    occurred_at: datetime = Field(sa_column=_time())
    reference: str | None = Field(default=None, sa_column=Column(String(200)))
    points: int = Field(sa_column=Column(BigInteger, nullable=False))
    transaction_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("ledger_transaction.id"), nullable=False)
    )
    created_at: datetime = Field(sa_column=_time())


class ChallengeProgress(SQLModel, table=True):
    """A member's progress on one challenge; completed (and rewarded) at most once."""

    __tablename__ = "challenge_progress"
    __table_args__ = (PrimaryKeyConstraint("customer_id", "challenge"),)

    customer_id: str = Field(sa_column=Column(String(40), nullable=False))
    challenge: str = Field(sa_column=Column(String(40), nullable=False))
    progress: int = Field(sa_column=Column(BigInteger, nullable=False))
    completed_at: datetime | None = Field(default=None, sa_column=_time(nullable=True))
    transaction_id: int | None = Field(
        default=None, sa_column=Column(BigInteger, ForeignKey("ledger_transaction.id"))
    )
    updated_at: datetime = Field(sa_column=_time())


class ChallengeCategory(SQLModel, table=True):
    """A category a member has bought during a "distinct categories" challenge."""

    __tablename__ = "challenge_category"
    __table_args__ = (PrimaryKeyConstraint("customer_id", "challenge", "category"),)

    customer_id: str = Field(sa_column=Column(String(40), nullable=False))
    challenge: str = Field(sa_column=Column(String(40), nullable=False))
    category: str = Field(sa_column=Column(String(40), nullable=False))
