"""Tables of personalised offers: the offers issued to members and their use.

A row names the customer only by the opaque id. ``facts`` is the JSON of the
figures and codes the rule used (counts, windows, amounts, a tier code),
never a name, a birthday or free text. Pending offers are deleted when the
member withdraws the ``personalised_offers`` or ``profiling`` consent or
processing is restricted; used offers stay, as they point at the ledger.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from node.store.models import BigId, _time


class CustomerOffer(SQLModel, table=True):
    """An offer a rule issued to a member: pending until used or expired."""

    __tablename__ = "customer_offer"
    __table_args__ = (
        UniqueConstraint("customer_id", "rule", "period_key", "seq", name="uq_customer_offer_slot"),
        Index("ix_customer_offer_customer", "customer_id", "status"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    public_id: str = Field(sa_column=Column(String(40), nullable=False, unique=True))
    customer_id: str = Field(sa_column=Column(String(40), nullable=False))
    rule: str = Field(sa_column=Column(String(40), nullable=False))
    #: The rule's limit period the offer counts in: 2026-03, 2026-W10, ``ever``...
    period_key: str = Field(sa_column=Column(String(20), nullable=False))
    #: 1, 2, ... within (customer, rule, period): the per-member limit, enforced by a unique key.
    seq: int = Field(sa_column=Column(Integer, nullable=False))
    program_version: int = Field(sa_column=Column(Integer, nullable=False))
    #: bonus_points | discount_code | reward
    reward_kind: str = Field(sa_column=Column(String(20), nullable=False))
    bonus_points: int | None = Field(default=None, sa_column=Column(BigInteger))
    discount_code: str | None = Field(default=None, sa_column=Column(String(40)))
    reward_code: str | None = Field(default=None, sa_column=Column(String(40)))
    facts: str = Field(sa_column=Column(Text, nullable=False))
    #: pending | used (an expired offer is a pending one past ``expires_at``).
    status: str = Field(sa_column=Column(String(20), nullable=False))
    issued_at: datetime = Field(sa_column=_time())
    expires_at: datetime = Field(sa_column=_time())
    used_at: datetime | None = Field(default=None, sa_column=_time(nullable=True))
    use_reference: str | None = Field(default=None, sa_column=Column(String(200)))
    transaction_id: int | None = Field(
        default=None, sa_column=Column(BigInteger, ForeignKey("ledger_transaction.id"))
    )
    voucher_code: str | None = Field(default=None, sa_column=Column(String(40)))
