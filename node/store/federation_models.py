"""Tables of federation: the manifest, links, inbox, outbox, cross-node
operations and clearing.

No table here holds personal data: customers appear only by their opaque id
(locally) and by pairwise pseudonyms (towards partners).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from node.store.models import BigId, _time


class FederationManifest(SQLModel, table=True):
    """A verified consortium manifest; the highest version is in force."""

    __tablename__ = "federation_manifest"

    version: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    consortium: str = Field(sa_column=Column(String(64), nullable=False))
    #: The steward-signed compact JWS, exactly as received.
    token: str = Field(sa_column=Column(Text, nullable=False))
    loaded_at: datetime = Field(sa_column=_time())


class LinkCode(SQLModel, table=True):
    """A short-lived, single-use code a member gives a partner to link accounts."""

    __tablename__ = "link_code"

    #: SHA-256 of the code: the code itself is a bearer secret and is not stored.
    code_digest: str = Field(sa_column=Column(String(64), primary_key=True))
    customer_id: str = Field(
        sa_column=Column(String(40), ForeignKey("customer.id"), nullable=False)
    )
    partner: str = Field(sa_column=Column(String(64), nullable=False))
    created_at: datetime = Field(sa_column=_time())
    expires_at: datetime = Field(sa_column=_time())
    used_at: datetime | None = Field(default=None, sa_column=_time(nullable=True))


class PartnerLink(SQLModel, table=True):
    """A member's account linked with their account at a partner node."""

    __tablename__ = "partner_link"
    __table_args__ = (
        UniqueConstraint("customer_id", "partner", name="uq_partner_link_customer"),
        UniqueConstraint("partner", "our_subject", name="uq_partner_link_subject"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    customer_id: str = Field(
        sa_column=Column(String(40), ForeignKey("customer.id"), nullable=False)
    )
    partner: str = Field(sa_column=Column(String(64), nullable=False))
    #: Our pseudonym for the member towards the partner (what the partner sends us).
    our_subject: str = Field(sa_column=Column(String(64), nullable=False))
    #: The partner's pseudonym for the member (what we send the partner).
    partner_subject: str = Field(sa_column=Column(String(64), nullable=False))
    status: str = Field(sa_column=Column(String(20), nullable=False))
    created_at: datetime = Field(sa_column=_time())
    revoked_at: datetime | None = Field(default=None, sa_column=_time(nullable=True))


class InboxMessage(SQLModel, table=True):
    """A request received, with the decision made on its first delivery."""

    __tablename__ = "inbox_message"
    __table_args__ = (PrimaryKeyConstraint("issuer", "message_id"),)

    issuer: str = Field(sa_column=Column(String(64), nullable=False))
    message_id: str = Field(sa_column=Column(String(64), nullable=False))
    message_type: str = Field(sa_column=Column(String(40), nullable=False))
    received_at: datetime = Field(sa_column=_time())
    #: The request's iat (Unix seconds): the settlement period it belongs to.
    request_iat: int = Field(sa_column=Column(BigInteger, nullable=False))
    outcome: str = Field(sa_column=Column(String(20), nullable=False))
    reason: str | None = Field(default=None, sa_column=Column(String(40)))
    #: The answer body (canonical JSON) and the signed answer last sent.
    answer_body: str = Field(sa_column=Column(Text, nullable=False))
    answer_token: str = Field(sa_column=Column(Text, nullable=False))
    answer_expires_at: int = Field(sa_column=Column(BigInteger, nullable=False))


class OutboxMessage(SQLModel, table=True):
    """A signed request to a peer, written with the change it carries; delivered
    until an answer arrives (persisted backoff)."""

    __tablename__ = "outbox_message"
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_destination", "destination", "status"),
        Index("ix_outbox_expiry", "status", "expires_at"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    message_id: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    destination: str = Field(sa_column=Column(String(64), nullable=False))
    message_type: str = Field(sa_column=Column(String(40), nullable=False))
    token: str = Field(sa_column=Column(Text, nullable=False))
    #: pending (no answer yet), answered, batched (folded into a transfer.batch before
    #: it was sent) or cancelled (a transfer never sent, cancelled by the operator).
    status: str = Field(sa_column=Column(String(20), nullable=False))
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    next_attempt_at: datetime = Field(sa_column=_time())
    last_error: str | None = Field(default=None, sa_column=Column(String(200)))
    created_at: datetime = Field(sa_column=_time())
    #: The request's exp: past it, the sender marks its operation in doubt.
    expires_at: datetime = Field(sa_column=_time())
    answered_at: datetime | None = Field(default=None, sa_column=_time(nullable=True))
    #: When a delivery worker first took it to send (migration 0016). Set, the
    #: message may have reached the partner even without a recorded answer (the
    #: process died mid-exchange): it is redelivered as it was, never folded
    #: into a batch or cancelled.
    handed_out_at: datetime | None = Field(default=None, sa_column=_time(nullable=True))
    outcome: str | None = Field(default=None, sa_column=Column(String(20)))
    reason: str | None = Field(default=None, sa_column=Column(String(40)))


class FederatedOperation(SQLModel, table=True):
    """A cross-node transfer, partner redemption or donation, on either side."""

    __tablename__ = "federated_operation"
    __table_args__ = (
        Index("ix_federated_operation_customer", "customer_id", "id"),
        Index("ix_federated_operation_peer", "peer", "status"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    public_id: str = Field(sa_column=Column(String(40), nullable=False, unique=True))
    #: transfer, redemption or donation.
    kind: str = Field(sa_column=Column(String(20), nullable=False))
    #: out (we sent the request) or in (we received it).
    direction: str = Field(sa_column=Column(String(5), nullable=False))
    peer: str = Field(sa_column=Column(String(64), nullable=False))
    #: <iss>:<jti> of the request (<iss>:<jti>:<item> for a batch item).
    ref: str = Field(sa_column=Column(String(200), nullable=False, unique=True))
    customer_id: str = Field(sa_column=Column(String(40), nullable=False))
    #: Our points: taken from the member (out) or credited to them (in).
    points: int = Field(sa_column=Column(BigInteger, nullable=False))
    peer_points: int = Field(sa_column=Column(BigInteger, nullable=False))
    value_minor: int = Field(sa_column=Column(BigInteger, nullable=False))
    kept_minor: int = Field(sa_column=Column(BigInteger, nullable=False))
    #: pending, expired_unresolved, accepted or rejected.
    status: str = Field(sa_column=Column(String(20), nullable=False))
    reason: str | None = Field(default=None, sa_column=Column(String(40)))
    request_iat: int = Field(sa_column=Column(BigInteger, nullable=False))
    #: Extra outcome data (a voucher, a receipt) as JSON; no personal data.
    detail: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(sa_column=_time())
    updated_at: datetime = Field(sa_column=_time())


class ClearingEntry(SQLModel, table=True):
    """Money one side of a pair owes the other for an accepted cross-node event."""

    __tablename__ = "clearing_entry"
    __table_args__ = (Index("ix_clearing_entry_peer", "peer", "request_iat"),)

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    peer: str = Field(sa_column=Column(String(64), nullable=False))
    ref: str = Field(sa_column=Column(String(200), nullable=False, unique=True))
    kind: str = Field(sa_column=Column(String(20), nullable=False))
    #: The node owed the money (the receiver of points, or the charity).
    creditor: str = Field(sa_column=Column(String(64), nullable=False))
    value_minor: int = Field(sa_column=Column(BigInteger, nullable=False))
    request_iat: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_at: datetime = Field(sa_column=_time())
