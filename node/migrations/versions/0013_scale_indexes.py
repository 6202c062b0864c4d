"""Indexes a node of a million members needs (measured with `make bench-scale`).

- ``ix_point_lot_account``: every lot of one account, spent or not, in order.
  The partial lot indexes cover only lots with points left, so a member's
  access export (and anything else listing all of their lots) read the whole
  ``point_lot`` table, a cost that grows with the node (bench-scale found it).

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-25 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("point_lot", schema=None) as batch_op:
        batch_op.create_index("ix_point_lot_account", ["account_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("point_lot", schema=None) as batch_op:
        batch_op.drop_index("ix_point_lot_account")
