"""Tables of the admin UI's people: staff accounts, their sessions, sign-in attempts,
and the member portal's one-time links and sessions.

No table holds a customer's personal data: a portal link or session names the
customer by opaque id. Session and link tokens are stored only as SHA-256
digests, so a copy of the database cannot be used to sign in. A staff user's
TOTP secret is sealed with a key derived from the node's master key.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, LargeBinary, String
from sqlmodel import Field, SQLModel

from node.db import UTCDateTime
from node.store.models import BigId

ROLES = ("operator", "privacy_officer", "auditor")


def _time(nullable: bool = False) -> Column[datetime]:
    return Column(UTCDateTime(), nullable=nullable)


class StaffUser(SQLModel, table=True):
    """A person who signs in at /admin, with exactly one role."""

    __tablename__ = "staff_user"

    id: str = Field(sa_column=Column(String(40), primary_key=True))
    username: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    display_name: str = Field(sa_column=Column(String(120), nullable=False))
    #: operator | privacy_officer | auditor
    role: str = Field(sa_column=Column(String(20), nullable=False))
    password_hash: str = Field(sa_column=Column(String(200), nullable=False))
    #: AES-GCM sealed base32 TOTP secret, or NULL when the account has no second factor.
    totp_secret: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    #: active | disabled
    status: str = Field(sa_column=Column(String(12), nullable=False))
    created_at: datetime = Field(sa_column=_time())
    changed_at: datetime = Field(sa_column=_time())


class StaffSession(SQLModel, table=True):
    """A signed-in browser. The cookie carries the token; the row its digest."""

    __tablename__ = "staff_session"
    __table_args__ = (Index("ix_staff_session_user", "user_id"),)

    id: str = Field(sa_column=Column(String(64), primary_key=True))
    user_id: str = Field(sa_column=Column(String(40), ForeignKey("staff_user.id"), nullable=False))
    created_at: datetime = Field(sa_column=_time())
    last_seen_at: datetime = Field(sa_column=_time())
    #: The absolute end; idle expiry is last_seen_at + the idle timeout.
    expires_at: datetime = Field(sa_column=_time())
    ended_at: datetime | None = Field(default=None, sa_column=_time(nullable=True))


class LoginAttempt(SQLModel, table=True):
    """A failed sign-in, kept for the throttling window and then pruned."""

    __tablename__ = "login_attempt"
    __table_args__ = (
        Index("ix_login_attempt_username", "username", "at"),
        Index("ix_login_attempt_address", "address", "at"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    #: The username as typed (lower-cased), whether or not such an account exists.
    username: str = Field(sa_column=Column(String(64), nullable=False))
    #: The client address (IPv4 or IPv6 text).
    address: str = Field(sa_column=Column(String(64), nullable=False))
    at: datetime = Field(sa_column=_time())


class PortalLink(SQLModel, table=True):
    """A one-time sign-in link to the member portal, minted by the operator API."""

    __tablename__ = "portal_link"
    __table_args__ = (Index("ix_portal_link_expires", "expires_at"),)

    id: str = Field(sa_column=Column(String(64), primary_key=True))
    customer_id: str = Field(sa_column=Column(String(40), nullable=False))
    created_at: datetime = Field(sa_column=_time())
    expires_at: datetime = Field(sa_column=_time())
    used_at: datetime | None = Field(default=None, sa_column=_time(nullable=True))


class PortalSession(SQLModel, table=True):
    """A customer signed in to the member portal through a one-time link."""

    __tablename__ = "portal_session"
    __table_args__ = (Index("ix_portal_session_customer", "customer_id"),)

    id: str = Field(sa_column=Column(String(64), primary_key=True))
    customer_id: str = Field(sa_column=Column(String(40), nullable=False))
    created_at: datetime = Field(sa_column=_time())
    expires_at: datetime = Field(sa_column=_time())
    ended_at: datetime | None = Field(default=None, sa_column=_time(nullable=True))
