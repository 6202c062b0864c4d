"""Tables of retention: the record of each run, and which erased members'
transaction details have been anonymised at the end of the bookkeeping period.

No personal data: run records hold counts per category and opaque ids only.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Column, ForeignKey, Index, String, Text
from sqlmodel import Field, SQLModel

from node.store.models import BigId, Customer, _time


class RetentionRun(SQLModel, table=True):
    """One run of the retention policies (a dry run too), by whom and with what result."""

    __tablename__ = "retention_run"
    __table_args__ = (Index("ix_retention_run_started", "started_at"),)

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    public_id: str = Field(sa_column=Column(String(40), nullable=False, unique=True))
    dry_run: bool = Field(sa_column=Column(Boolean, nullable=False))
    #: schedule, cli or api.
    trigger: str = Field(sa_column=Column(String(20), nullable=False))
    #: An API key id, "cli" or "system".
    actor: str = Field(sa_column=Column(String(60), nullable=False))
    started_at: datetime = Field(sa_column=_time())
    finished_at: datetime | None = Field(default=None, sa_column=_time(nullable=True))
    #: JSON: per category the cutoff, how many items were due and how many were applied.
    categories: str | None = Field(default=None, sa_column=Column(Text))
    #: The category and error class when the run stopped early (never personal data).
    error: str | None = Field(default=None, sa_column=Column(String(200)))


class RetentionAnonymisedCustomer(SQLModel, table=True):
    """An erased member whose transaction details are anonymised for good."""

    __tablename__ = "retention_anonymised_customer"

    customer_id: str = Field(
        sa_column=Column(String(40), ForeignKey("customer.id"), primary_key=True)
    )
    anonymised_at: datetime = Field(sa_column=_time())


_customer = Customer.__table__  # type: ignore[attr-defined]

#: Finding inactive (or erased) members past a cutoff walks this index, not the table.
Index("ix_customer_status_created", _customer.c.status, _customer.c.created_at, _customer.c.id)
