"""Personalised offers: rules' offers per customer, their explanation and use.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-25 09:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from node.db import UTCDateTime

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "customer_offer",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("public_id", sa.String(length=40), nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("rule", sa.String(length=40), nullable=False),
        sa.Column("period_key", sa.String(length=20), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("program_version", sa.Integer(), nullable=False),
        sa.Column("reward_kind", sa.String(length=20), nullable=False),
        sa.Column("bonus_points", sa.BigInteger(), nullable=True),
        sa.Column("discount_code", sa.String(length=40), nullable=True),
        sa.Column("reward_code", sa.String(length=40), nullable=True),
        sa.Column("facts", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("issued_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.Column("use_reference", sa.String(length=200), nullable=True),
        sa.Column("transaction_id", sa.BigInteger(), nullable=True),
        sa.Column("voucher_code", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(["transaction_id"], ["ledger_transaction.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("public_id"),
        sa.UniqueConstraint(
            "customer_id", "rule", "period_key", "seq", name="uq_customer_offer_slot"
        ),
    )
    op.create_index("ix_customer_offer_customer", "customer_offer", ["customer_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_customer_offer_customer", table_name="customer_offer")
    op.drop_table("customer_offer")
