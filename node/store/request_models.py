"""Tables of the data-subject request workflow (GDPR Art. 12, 15-18, 20, 21).

``subject_request`` holds one request by a member: its type, state, due date,
identity verification, decision and outcome. It names the member only by the
opaque customer id. Anything the requester supplied in their own words (a
note, the new values of a rectification) is sealed with the member's data key
in ``sealed_payload`` and deleted once the request is done or rejected.

``subject_request_event`` is the request's history: every state change, who
made it, when, and an optional note. Both tables have a retention rule of
their own (node.services.subject_requests.retention_due_txn).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlmodel import Field, SQLModel

from node.db import UTCDateTime
from node.store.models import BigId


def _time(nullable: bool = False) -> Column[datetime]:
    return Column(UTCDateTime(), nullable=nullable)


class SubjectRequest(SQLModel, table=True):
    """One data-subject request and where it stands."""

    __tablename__ = "subject_request"
    __table_args__ = (
        Index("ix_subject_request_customer", "customer_id", "id"),
        Index("ix_subject_request_state_due", "state", "due_at"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    public_id: str = Field(sa_column=Column(String(40), nullable=False, unique=True))
    customer_id: str = Field(sa_column=Column(String(40), nullable=False))
    #: access, portability, rectification, erasure, restriction, restriction_lift, objection.
    type: str = Field(sa_column=Column(String(20), nullable=False))
    #: received, identity_verified, approved, rejected, done.
    state: str = Field(sa_column=Column(String(20), nullable=False))
    #: How it reached the node: customer_api, or what staff record (email, letter...).
    channel: str = Field(sa_column=Column(String(20), nullable=False))
    #: "customer" or the API key id of the staff member who filed it.
    filed_by: str = Field(sa_column=Column(String(60), nullable=False))
    #: The requester's own words and values, sealed with the member's data key.
    sealed_payload: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    received_at: datetime = Field(sa_column=_time())
    original_due_at: datetime = Field(sa_column=_time())
    due_at: datetime = Field(sa_column=_time())
    extension_months: int | None = Field(default=None, sa_column=Column(Integer))
    extension_reason: str | None = Field(default=None, sa_column=Column(String(500)))
    customer_notified_at: datetime | None = Field(default=None, sa_column=_time(nullable=True))
    #: The chosen method; verified_at stays empty until it is satisfied.
    verification_method: str | None = Field(default=None, sa_column=Column(String(40)))
    verified_at: datetime | None = Field(default=None, sa_column=_time(nullable=True))
    verified_by: str | None = Field(default=None, sa_column=Column(String(60)))
    decided_at: datetime | None = Field(default=None, sa_column=_time(nullable=True))
    decided_by: str | None = Field(default=None, sa_column=Column(String(60)))
    rejection_reason: str | None = Field(default=None, sa_column=Column(String(500)))
    done_at: datetime | None = Field(default=None, sa_column=_time(nullable=True))
    #: What the effect did, kept and why (JSON, no personal data).
    outcome: str | None = Field(default=None, sa_column=Column(Text))
    updated_at: datetime = Field(sa_column=_time())


class SubjectRequestEvent(SQLModel, table=True):
    """One state change of a request: who, when, from what to what, a note."""

    __tablename__ = "subject_request_event"

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    request_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("subject_request.id"), nullable=False, index=True)
    )
    from_state: str | None = Field(default=None, sa_column=Column(String(20)))
    to_state: str = Field(sa_column=Column(String(20), nullable=False))
    actor: str = Field(sa_column=Column(String(60), nullable=False))
    note: str | None = Field(default=None, sa_column=Column(String(500)))
    at: datetime = Field(sa_column=_time())
