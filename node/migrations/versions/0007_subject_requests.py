"""Data-subject requests: states, due dates, verification, exports.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from node.db import UTCDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "subject_request",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("public_id", sa.String(length=40), nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("filed_by", sa.String(length=60), nullable=False),
        sa.Column("sealed_payload", sa.LargeBinary(), nullable=True),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("original_due_at", UTCDateTime(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("extension_months", sa.Integer(), nullable=True),
        sa.Column("extension_reason", sa.String(length=500), nullable=True),
        sa.Column("customer_notified_at", UTCDateTime(), nullable=True),
        sa.Column("verification_method", sa.String(length=40), nullable=True),
        sa.Column("verified_at", UTCDateTime(), nullable=True),
        sa.Column("verified_by", sa.String(length=60), nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("decided_by", sa.String(length=60), nullable=True),
        sa.Column("rejection_reason", sa.String(length=500), nullable=True),
        sa.Column("done_at", UTCDateTime(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("public_id"),
    )
    with op.batch_alter_table("subject_request", schema=None) as batch_op:
        batch_op.create_index("ix_subject_request_customer", ["customer_id", "id"], unique=False)
        batch_op.create_index("ix_subject_request_state_due", ["state", "due_at"], unique=False)

    op.create_table(
        "subject_request_event",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("request_id", sa.BigInteger(), nullable=False),
        sa.Column("from_state", sa.String(length=20), nullable=True),
        sa.Column("to_state", sa.String(length=20), nullable=False),
        sa.Column("actor", sa.String(length=60), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["subject_request.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("subject_request_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_subject_request_event_request_id"), ["request_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("subject_request_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subject_request_event_request_id"))
    op.drop_table("subject_request_event")
    with op.batch_alter_table("subject_request", schema=None) as batch_op:
        batch_op.drop_index("ix_subject_request_state_due")
        batch_op.drop_index("ix_subject_request_customer")
    op.drop_table("subject_request")
