"""Outbox rows remember when a delivery worker first took them to send.

``handed_out_at`` is set, in the claiming transaction, on every row a worker
is about to send. A row with it set may have reached the partner even when
its answer was never recorded (the process died mid-exchange), so it is
never folded into a batch or cancelled: only redelivered as it was.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-25 13:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from node.db import UTCDateTime

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("handed_out_at", UTCDateTime(), nullable=True))
    # Rows tried before this revision may have been sent: never fold or cancel them.
    op.execute(
        "UPDATE outbox_message SET handed_out_at = created_at"
        " WHERE attempts > 0 OR next_attempt_at > created_at"
    )


def downgrade() -> None:
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_column("handed_out_at")
