"""Settlement: our side of each pair and period, the statements sent, the
payments recorded.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 06:55:57.978953
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from node.db import UTCDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "settlement_period",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("public_id", sa.String(length=40), nullable=False),
        sa.Column("peer", sa.String(length=64), nullable=False),
        sa.Column("period_start", sa.BigInteger(), nullable=False),
        sa.Column("period_end", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("statement_id", sa.String(length=64), nullable=True),
        sa.Column("net_minor", sa.BigInteger(), nullable=True),
        sa.Column("differing", sa.Text(), nullable=True),
        sa.Column("paid_minor", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("peer", "period_start", "period_end", name="uq_settlement_period"),
        sa.UniqueConstraint("public_id"),
    )
    op.create_table(
        "settlement_payment",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("public_id", sa.String(length=40), nullable=False),
        sa.Column(
            "period_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("payer", sa.String(length=64), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["period_id"],
            ["settlement_period.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("public_id"),
    )
    with op.batch_alter_table("settlement_payment", schema=None) as batch_op:
        batch_op.create_index("ix_settlement_payment_period", ["period_id"], unique=False)

    op.create_table(
        "settlement_statement",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column(
            "period_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("net_minor", sa.BigInteger(), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("reason", sa.String(length=40), nullable=True),
        sa.Column("answer_net_minor", sa.BigInteger(), nullable=True),
        sa.Column("differing", sa.Text(), nullable=True),
        sa.Column("answered_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["period_id"],
            ["settlement_period.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id"),
    )
    with op.batch_alter_table("settlement_statement", schema=None) as batch_op:
        batch_op.create_index("ix_settlement_statement_period", ["period_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("settlement_statement", schema=None) as batch_op:
        batch_op.drop_index("ix_settlement_statement_period")

    op.drop_table("settlement_statement")
    with op.batch_alter_table("settlement_payment", schema=None) as batch_op:
        batch_op.drop_index("ix_settlement_payment_period")

    op.drop_table("settlement_payment")
    op.drop_table("settlement_period")
