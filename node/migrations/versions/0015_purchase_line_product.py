"""Purchase lines carry the shop's product code, for product offer rules.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-25 12:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("purchase_line", schema=None) as batch_op:
        batch_op.add_column(sa.Column("product", sa.String(length=64), nullable=True))
        batch_op.create_index(
            "ix_purchase_line_purchase_product", ["purchase_id", "product"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("purchase_line", schema=None) as batch_op:
        batch_op.drop_index("ix_purchase_line_purchase_product")
        batch_op.drop_column("product")
