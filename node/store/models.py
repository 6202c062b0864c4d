"""Tables of the node's database, as SQLModel classes.

The schema itself is owned by the Alembic migrations in node/migrations; a test
checks that these models and the migrated schema agree.

Ledger rows (``ledger_transaction``, ``ledger_entry``) reference customers only
by their opaque id and are append-only: database triggers refuse UPDATE and
DELETE on them. Personal data lives only in ``customer_profile``, encrypted with
the customer's data key from ``customer_key``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlmodel import Field, SQLModel

from node.db import UTCDateTime

# SQLite only autoincrements a column declared exactly INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def _time(nullable: bool = False) -> Column[datetime]:
    return Column(UTCDateTime(), nullable=nullable)


class Account(SQLModel, table=True):
    """A ledger account. Customer accounts may never go below zero."""

    __tablename__ = "account"
    __table_args__ = (
        CheckConstraint(
            "kind <> 'customer' OR balance >= 0", name="ck_account_customer_not_negative"
        ),
    )

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    code: str = Field(sa_column=Column(String(100), nullable=False, unique=True))
    kind: str = Field(sa_column=Column(String(20), nullable=False))
    customer_id: str | None = Field(
        default=None, sa_column=Column(String(40), ForeignKey("customer.id"), unique=True)
    )
    #: "points", or a currency code for store credit (money in minor units).
    #: A transaction never mixes units.
    unit: str = Field(
        default="points", sa_column=Column(String(10), nullable=False, server_default="points")
    )
    balance: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    created_at: datetime = Field(sa_column=_time())


class LedgerTransaction(SQLModel, table=True):
    """One balanced posting. Its entries sum to zero."""

    __tablename__ = "ledger_transaction"
    __table_args__ = (Index("ix_ledger_transaction_customer", "customer_id", "id"),)

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    public_id: str = Field(sa_column=Column(String(40), nullable=False, unique=True))
    kind: str = Field(sa_column=Column(String(20), nullable=False))
    customer_id: str | None = Field(default=None, sa_column=Column(String(40)))
    points: int = Field(sa_column=Column(BigInteger, nullable=False))
    idempotency_key: str | None = Field(default=None, sa_column=Column(String(300), unique=True))
    #: Who wrote it: an API key id, or "system" for the node's own jobs.
    actor: str | None = Field(default=None, sa_column=Column(String(60)))
    reference: str | None = Field(default=None, sa_column=Column(String(200)))
    created_at: datetime = Field(sa_column=_time())


class LedgerEntry(SQLModel, table=True):
    __tablename__ = "ledger_entry"
    __table_args__ = (CheckConstraint("amount <> 0", name="ck_ledger_entry_not_zero"),)

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    transaction_id: int = Field(
        sa_column=Column(
            BigInteger, ForeignKey("ledger_transaction.id"), nullable=False, index=True
        )
    )
    account_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("account.id"), nullable=False, index=True)
    )
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))


class PointLot(SQLModel, table=True):
    """Points credited together; spent and expired first in, first out."""

    __tablename__ = "point_lot"
    __table_args__ = (
        CheckConstraint("remaining >= 0 AND remaining <= amount", name="ck_point_lot_remaining"),
        Index(
            "ix_point_lot_open",
            "account_id",
            "id",
            postgresql_where=text("remaining > 0"),
            sqlite_where=text("remaining > 0"),
        ),
        Index(
            "ix_point_lot_expiry",
            "expires_at",
            postgresql_where=text("remaining > 0"),
            sqlite_where=text("remaining > 0"),
        ),
        # Every lot of one member, spent or not (access export; migration 0013).
        Index("ix_point_lot_account", "account_id", "id"),
        # "Has this member any lot due?" on every write, without reading every open lot.
        Index(
            "ix_point_lot_account_expiry",
            "account_id",
            "expires_at",
            postgresql_where=text("remaining > 0"),
            sqlite_where=text("remaining > 0"),
        ),
    )

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    account_id: int = Field(sa_column=Column(BigInteger, ForeignKey("account.id"), nullable=False))
    transaction_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("ledger_transaction.id"), nullable=False)
    )
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    remaining: int = Field(sa_column=Column(BigInteger, nullable=False))
    earned_at: datetime = Field(sa_column=_time())
    expires_at: datetime | None = Field(default=None, sa_column=_time(nullable=True))


class LotMovement(SQLModel, table=True):
    """Points taken out of a lot by a transaction (always negative)."""

    __tablename__ = "lot_movement"
    __table_args__ = (CheckConstraint("amount < 0", name="ck_lot_movement_negative"),)

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    lot_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("point_lot.id"), nullable=False, index=True)
    )
    transaction_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("ledger_transaction.id"), nullable=False)
    )
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))


class Purchase(SQLModel, table=True):
    __tablename__ = "purchase"
    __table_args__ = (
        # Covers the rolling tier figure (node.store.tiers), read on every earn.
        Index(
            "ix_purchase_customer_time",
            "customer_id",
            "occurred_at",
            "amount",
            "refunded_amount",
            "points",
            "reversed_points",
        ),
    )

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    customer_id: str = Field(sa_column=Column(String(40), nullable=False, index=True))
    transaction_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("ledger_transaction.id"), nullable=False)
    )
    order_ref: str | None = Field(default=None, sa_column=Column(String(200)))
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(sa_column=Column(String(3), nullable=False))
    points: int = Field(sa_column=Column(BigInteger, nullable=False))
    occurred_at: datetime = Field(sa_column=_time())
    #: The program version the purchase earned under (0: the settings' defaults).
    program_version: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, server_default="0")
    )
    #: Store credit (minor units) the purchase earned as cashback.
    cashback: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, server_default="0")
    )
    refunded_amount: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, server_default="0")
    )
    reversed_points: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, server_default="0")
    )
    reversed_cashback: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, server_default="0")
    )


class Customer(SQLModel, table=True):
    """A member, known to the ledger only by this opaque id."""

    __tablename__ = "customer"

    id: str = Field(sa_column=Column(String(40), primary_key=True))
    status: str = Field(sa_column=Column(String(20), nullable=False))
    created_at: datetime = Field(sa_column=_time())


class CustomerProfile(SQLModel, table=True):
    """Personal data, sealed with the customer's data key (AES-GCM)."""

    __tablename__ = "customer_profile"

    customer_id: str = Field(
        sa_column=Column(String(40), ForeignKey("customer.id"), primary_key=True)
    )
    sealed: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    email_digest: str | None = Field(default=None, sa_column=Column(String(64), unique=True))
    updated_at: datetime = Field(sa_column=_time())


class CustomerKey(SQLModel, table=True):
    """The customer's data key, wrapped by the node's master key. Erasure deletes it."""

    __tablename__ = "customer_key"

    customer_id: str = Field(
        sa_column=Column(String(40), ForeignKey("customer.id"), primary_key=True)
    )
    wrapped_key: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(sa_column=_time())


class ApiKey(SQLModel, table=True):
    """An operator API key; only the SHA-256 digest of the secret is stored."""

    __tablename__ = "api_key"

    id: str = Field(sa_column=Column(String(40), primary_key=True))
    name: str = Field(sa_column=Column(String(100), nullable=False))
    digest: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    created_at: datetime = Field(sa_column=_time())
    revoked_at: datetime | None = Field(default=None, sa_column=_time(nullable=True))


class IdempotencyRecord(SQLModel, table=True):
    """The stored answer to a write, replayed when its key comes again."""

    __tablename__ = "idempotency_record"

    #: "<api key id>:<Idempotency-Key>": each API key has its own key space.
    key: str = Field(sa_column=Column(String(300), primary_key=True))
    operation: str = Field(sa_column=Column(String(60), nullable=False))
    request_digest: str = Field(sa_column=Column(String(64), nullable=False))
    status_code: int = Field(nullable=False)
    response: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_column=_time())
