"""Paid membership plans and engagement: actions and challenges.

``membership_change`` and ``membership_payment`` are append-only history,
like the ledger.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from node.db import UTCDateTime

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = ("membership_change", "membership_payment")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "membership",
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("plan", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("period_start", UTCDateTime(), nullable=False),
        sa.Column("period_end", UTCDateTime(), nullable=False),
        sa.Column("cancel_at_period_end", sa.Boolean(), nullable=False),
        sa.Column("renewal_notice_for", UTCDateTime(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"]),
        sa.PrimaryKeyConstraint("customer_id"),
    )
    op.create_index("ix_membership_period_end", "membership", ["period_end"])
    op.create_table(
        "membership_change",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("plan", sa.String(length=40), nullable=False),
        sa.Column("change", sa.String(length=20), nullable=False),
        sa.Column("period_start", UTCDateTime(), nullable=False),
        sa.Column("period_end", UTCDateTime(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_membership_change_customer", "membership_change", ["customer_id", "id"])
    op.create_table(
        "membership_payment",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("plan", sa.String(length=40), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=True),
        sa.Column("period_start", UTCDateTime(), nullable=False),
        sa.Column("period_end", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_membership_payment_customer", "membership_payment", ["customer_id", "period_start"]
    )
    op.create_index("ix_membership_payment_created", "membership_payment", ["created_at"])
    op.create_table(
        "customer_action",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("public_id", sa.String(length=40), nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("action_type", sa.String(length=40), nullable=False),
        sa.Column("period_key", sa.String(length=20), nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=True),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("transaction_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["transaction_id"], ["ledger_transaction.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("public_id"),
    )
    op.create_index(
        "ix_customer_action_cap", "customer_action", ["customer_id", "action_type", "period_key"]
    )
    op.create_table(
        "challenge_progress",
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("challenge", sa.String(length=40), nullable=False),
        sa.Column("progress", sa.BigInteger(), nullable=False),
        sa.Column("completed_at", UTCDateTime(), nullable=True),
        sa.Column("transaction_id", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["transaction_id"], ["ledger_transaction.id"]),
        sa.PrimaryKeyConstraint("customer_id", "challenge"),
    )
    op.create_table(
        "challenge_category",
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("challenge", sa.String(length=40), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "challenge", "category"),
    )
    dialect = op.get_bind().dialect.name
    for table in APPEND_ONLY:
        for action in ("UPDATE", "DELETE"):
            name = f"{table}_no_{action.lower()}"
            if dialect == "postgresql":
                op.execute(
                    f"CREATE TRIGGER {name} BEFORE {action} ON {table} "
                    "FOR EACH ROW EXECUTE FUNCTION konsort_append_only()"
                )
            else:
                op.execute(
                    f"CREATE TRIGGER {name} BEFORE {action} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'konsort: {table} is append-only'); END"
                )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in APPEND_ONLY:
        for action in ("update", "delete"):
            suffix = f" ON {table}" if dialect == "postgresql" else ""
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{action}{suffix}")
    op.drop_table("challenge_category")
    op.drop_table("challenge_progress")
    op.drop_index("ix_customer_action_cap", table_name="customer_action")
    op.drop_table("customer_action")
    op.drop_index("ix_membership_payment_created", table_name="membership_payment")
    op.drop_index("ix_membership_payment_customer", table_name="membership_payment")
    op.drop_table("membership_payment")
    op.drop_index("ix_membership_change_customer", table_name="membership_change")
    op.drop_table("membership_change")
    op.drop_index("ix_membership_period_end", table_name="membership")
    op.drop_table("membership")
