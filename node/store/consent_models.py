"""Tables of consent: purposes with versioned wording, consent records, restriction.

All three are append-only (database triggers refuse UPDATE; migration 0005):

- ``consent_wording``: one row per (purpose, version), the text a member saw.
  A purpose exists once it has a version 1. Rows are never deleted either,
  because records point at them.
- ``consent_record``: one row per grant or withdrawal. The current state of
  (customer, purpose) is its newest row, found through
  ``ix_consent_record_current``. Retention may DELETE records of withdrawn
  purposes (node.services.consent.retention_apply_txn); nothing may UPDATE.
- ``processing_restriction``: GDPR Art. 18 history; the newest row per
  customer says whether processing is restricted now.

No personal data: opaque customer ids, purpose ids, versions, channels,
actors (an API key id, "customer" or a CLI user) and reason codes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Column, Index, Integer, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from node.store.models import BigId, _time


class ConsentWording(SQLModel, table=True):
    """One published version of a purpose's wording."""

    __tablename__ = "consent_wording"
    __table_args__ = (UniqueConstraint("purpose", "version", name="uq_consent_wording_version"),)

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    purpose: str = Field(sa_column=Column(String(40), nullable=False))
    version: int = Field(sa_column=Column(Integer, nullable=False))
    #: "consent" (Art. 6(1)(a)) or "contract" (Art. 6(1)(b), membership only).
    legal_basis: str = Field(sa_column=Column(String(20), nullable=False))
    title: str = Field(sa_column=Column(String(100), nullable=False))
    text: str = Field(sa_column=Column(Text, nullable=False))
    published_by: str = Field(sa_column=Column(String(60), nullable=False))
    published_at: datetime = Field(sa_column=_time())


class ConsentRecord(SQLModel, table=True):
    """A member granted or withdrew one purpose, seeing one wording version."""

    __tablename__ = "consent_record"
    __table_args__ = (
        Index("ix_consent_record_current", "customer_id", "purpose", "id"),
        Index("ix_consent_record_recorded", "recorded_at"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    public_id: str = Field(sa_column=Column(String(40), nullable=False, unique=True))
    customer_id: str = Field(sa_column=Column(String(40), nullable=False))
    purpose: str = Field(sa_column=Column(String(40), nullable=False))
    granted: bool = Field(sa_column=Column(Boolean, nullable=False))
    wording_version: int = Field(sa_column=Column(Integer, nullable=False))
    #: customer_api, operator_api, in_store, web, enrolment or cli.
    channel: str = Field(sa_column=Column(String(20), nullable=False))
    #: An API key id, "customer" (the member themself) or a CLI user.
    actor: str = Field(sa_column=Column(String(60), nullable=False))
    recorded_at: datetime = Field(sa_column=_time())


class ProcessingRestriction(SQLModel, table=True):
    """Restriction of processing (GDPR Art. 18) set or lifted for a member."""

    __tablename__ = "processing_restriction"
    __table_args__ = (Index("ix_processing_restriction_current", "customer_id", "id"),)

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    customer_id: str = Field(sa_column=Column(String(40), nullable=False))
    restricted: bool = Field(sa_column=Column(Boolean, nullable=False))
    #: A reason code or request id (never free text): e.g. accuracy_contested.
    reason: str = Field(sa_column=Column(String(60), nullable=False))
    actor: str = Field(sa_column=Column(String(60), nullable=False))
    recorded_at: datetime = Field(sa_column=_time())
