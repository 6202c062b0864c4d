"""Tables of the audit log: a hash chain of staff access to personal data.

``audit_entry`` rows are numbered by ``seq`` without gaps; each row's ``hash``
covers its own fields and the previous row's hash (node.services.audit).
Database triggers refuse UPDATE on both tables and DELETE of any entry that
no ``audit_anchor`` row covers: retention may only cut a prefix of the chain,
and must first write the anchor the remaining chain starts from.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Index, String, Text
from sqlmodel import Field, SQLModel

from node.db import UTCDateTime
from node.store.models import BigId


class AuditEntry(SQLModel, table=True):
    """Who did what to which customer's personal data, when and why."""

    __tablename__ = "audit_entry"
    __table_args__ = (Index("ix_audit_entry_customer", "customer_id", "seq"),)

    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    #: An operator API key id, a staff user id, "system" or "customer".
    actor: str = Field(sa_column=Column(String(60), nullable=False))
    action: str = Field(sa_column=Column(String(40), nullable=False))
    #: The opaque customer id; never a name, email or phone.
    customer_id: str | None = Field(default=None, sa_column=Column(String(40)))
    purpose: str = Field(sa_column=Column(String(40), nullable=False))
    #: Canonical JSON of non-personal facts (e.g. changed field names).
    detail: str = Field(sa_column=Column(Text, nullable=False))
    prev_hash: str = Field(sa_column=Column(String(64), nullable=False))
    hash: str = Field(sa_column=Column(String(64), nullable=False))


class AuditAnchor(SQLModel, table=True):
    """Where the chain resumes after retention pruned the entries up to ``through_seq``."""

    __tablename__ = "audit_anchor"

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    through_seq: int = Field(sa_column=Column(BigInteger, nullable=False, unique=True))
    #: The hash of entry ``through_seq``: the next entry's ``prev_hash``.
    hash: str = Field(sa_column=Column(String(64), nullable=False))
    entries: int = Field(sa_column=Column(BigInteger, nullable=False))
    pruned_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
