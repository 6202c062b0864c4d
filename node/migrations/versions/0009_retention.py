"""Retention policies: the record of each run.

Also the marker of erased members whose transaction details were anonymised
at the end of the bookkeeping period, and an index for finding members by
status and age without reading the whole customer table.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from node.db import UTCDateTime

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "retention_run",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("public_id", sa.String(length=40), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("trigger", sa.String(length=20), nullable=False),
        sa.Column("actor", sa.String(length=60), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("categories", sa.Text(), nullable=True),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("public_id"),
    )
    op.create_index("ix_retention_run_started", "retention_run", ["started_at"])
    op.create_table(
        "retention_anonymised_customer",
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("anonymised_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"]),
        sa.PrimaryKeyConstraint("customer_id"),
    )
    op.create_index("ix_customer_status_created", "customer", ["status", "created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_customer_status_created", table_name="customer")
    op.drop_table("retention_anonymised_customer")
    op.drop_index("ix_retention_run_started", table_name="retention_run")
    op.drop_table("retention_run")
