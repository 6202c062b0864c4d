"""Tables of settlement: our side of each pair and period, the statements we
sent for it, and the payments recorded against it.

Amounts are integers in minor units of the consortium's settlement currency.
A period's ``net_minor`` is from this node's view: positive, the partner owes
us; negative, we owe the partner. No personal data: partners, ids and figures.
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


class SettlementPeriodRecord(SQLModel, table=True):
    """Our side of one pair and period ``[period_start, period_end)`` (Unix seconds)."""

    __tablename__ = "settlement_period"
    __table_args__ = (
        UniqueConstraint("peer", "period_start", "period_end", name="uq_settlement_period"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    #: The id in the API and in the statement's ``period_id``.
    public_id: str = Field(sa_column=Column(String(40), nullable=False, unique=True))
    peer: str = Field(sa_column=Column(String(64), nullable=False))
    period_start: int = Field(sa_column=Column(BigInteger, nullable=False))
    period_end: int = Field(sa_column=Column(BigInteger, nullable=False))
    #: open, closed, awaiting_answer, agreed, disputed or settled (protocol.settlement).
    status: str = Field(sa_column=Column(String(20), nullable=False))
    #: The message id of the current statement (the one an answer must reply to).
    statement_id: str | None = Field(default=None, sa_column=Column(String(64)))
    #: The current statement's net: positive, the partner owes us.
    net_minor: int | None = Field(default=None, sa_column=Column(BigInteger))
    #: JSON list of the refs the partner reported as differing (when disputed).
    differing: str | None = Field(default=None, sa_column=Column(Text))
    paid_minor: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    created_at: datetime = Field(sa_column=_time())
    updated_at: datetime = Field(sa_column=_time())


class SentStatement(SQLModel, table=True):
    """A statement we sent for a period, and the answer it got."""

    __tablename__ = "settlement_statement"
    __table_args__ = (Index("ix_settlement_statement_period", "period_id"),)

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    message_id: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    period_id: int = Field(
        sa_column=Column(BigId, ForeignKey("settlement_period.id"), nullable=False)
    )
    net_minor: int = Field(sa_column=Column(BigInteger, nullable=False))
    entries: int = Field(sa_column=Column(Integer, nullable=False))
    sent_at: datetime = Field(sa_column=_time())
    #: agreed, disputed or rejected; None until the partner answers.
    outcome: str | None = Field(default=None, sa_column=Column(String(20)))
    reason: str | None = Field(default=None, sa_column=Column(String(40)))
    #: The partner's net by its own records (from our view), when not rejected.
    answer_net_minor: int | None = Field(default=None, sa_column=Column(BigInteger))
    #: JSON list of differing refs, when disputed.
    differing: str | None = Field(default=None, sa_column=Column(Text))
    answered_at: datetime | None = Field(default=None, sa_column=_time(nullable=True))


class SettlementPayment(SQLModel, table=True):
    """Money that moved outside Konsort for an agreed period (append-only)."""

    __tablename__ = "settlement_payment"
    __table_args__ = (Index("ix_settlement_payment_period", "period_id"),)

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    public_id: str = Field(sa_column=Column(String(40), nullable=False, unique=True))
    period_id: int = Field(
        sa_column=Column(BigId, ForeignKey("settlement_period.id"), nullable=False)
    )
    amount_minor: int = Field(sa_column=Column(BigInteger, nullable=False))
    #: The payer: this node or the partner.
    payer: str = Field(sa_column=Column(String(64), nullable=False))
    #: The bank or transfer reference (an identifier, no free text).
    reference: str = Field(sa_column=Column(String(64), nullable=False))
    #: Who recorded it (an API key id, or ``cli``).
    recorded_by: str = Field(sa_column=Column(String(64), nullable=False))
    created_at: datetime = Field(sa_column=_time())
