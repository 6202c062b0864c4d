"""Tables of partner notices: what this node told its partners about a
customer's erasure, restriction or rectification (GDPR Art. 17(2), 19), and
the signed receipts they answered with.

No personal data: the customer appears by their opaque id only; the pseudonym
the notice carried lives in the signed message of the outbox, not here.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Integer, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from node.store.models import BigId, _time


class PartnerNotice(SQLModel, table=True):
    """One notice to one partner for one data-subject request."""

    __tablename__ = "partner_notice"
    __table_args__ = (
        UniqueConstraint("request_ref", "kind", "partner", name="uq_partner_notice_request"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    public_id: str = Field(sa_column=Column(String(40), nullable=False, unique=True))
    #: The data-subject request this notice belongs to (the caller's reference).
    request_ref: str = Field(sa_column=Column(String(64), nullable=False))
    #: erasure, restriction, restriction_lift or rectification.
    kind: str = Field(sa_column=Column(String(20), nullable=False))
    partner: str = Field(sa_column=Column(String(64), nullable=False))
    customer_id: str = Field(sa_column=Column(String(40), nullable=False))
    #: The outbox message carrying the notice now (a new one after an expired first try).
    message_id: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    #: queued, receipt_in or rejected.
    state: str = Field(sa_column=Column(String(20), nullable=False))
    reason: str | None = Field(default=None, sa_column=Column(String(40)))
    #: How many times the notice was signed (more than one: re-sent after expiring).
    sends: int = Field(default=1, sa_column=Column(Integer, nullable=False))
    #: The partner's answer body (canonical JSON) and its signed token.
    receipt: str | None = Field(default=None, sa_column=Column(Text))
    receipt_token: str | None = Field(default=None, sa_column=Column(Text))
    sent_at: datetime = Field(sa_column=_time())
    answered_at: datetime | None = Field(default=None, sa_column=_time(nullable=True))
