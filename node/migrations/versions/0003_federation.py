"""Federation: the manifest, link codes and links, inbox, outbox, cross-node
operations and clearing entries.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 06:36:58.844000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from node.db import UTCDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "clearing_entry",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("peer", sa.String(length=64), nullable=False),
        sa.Column("ref", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("creditor", sa.String(length=64), nullable=False),
        sa.Column("value_minor", sa.BigInteger(), nullable=False),
        sa.Column("request_iat", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ref"),
    )
    with op.batch_alter_table("clearing_entry", schema=None) as batch_op:
        batch_op.create_index("ix_clearing_entry_peer", ["peer", "request_iat"], unique=False)

    op.create_table(
        "federated_operation",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("public_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("direction", sa.String(length=5), nullable=False),
        sa.Column("peer", sa.String(length=64), nullable=False),
        sa.Column("ref", sa.String(length=200), nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("peer_points", sa.BigInteger(), nullable=False),
        sa.Column("value_minor", sa.BigInteger(), nullable=False),
        sa.Column("kept_minor", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=True),
        sa.Column("request_iat", sa.BigInteger(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("public_id"),
        sa.UniqueConstraint("ref"),
    )
    with op.batch_alter_table("federated_operation", schema=None) as batch_op:
        batch_op.create_index(
            "ix_federated_operation_customer", ["customer_id", "id"], unique=False
        )
        batch_op.create_index("ix_federated_operation_peer", ["peer", "status"], unique=False)

    op.create_table(
        "federation_manifest",
        sa.Column("version", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("consortium", sa.String(length=64), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("loaded_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("version"),
    )
    op.create_table(
        "inbox_message",
        sa.Column("issuer", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("message_type", sa.String(length=40), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("request_iat", sa.BigInteger(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=True),
        sa.Column("answer_body", sa.Text(), nullable=False),
        sa.Column("answer_token", sa.Text(), nullable=False),
        sa.Column("answer_expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("issuer", "message_id"),
    )
    op.create_table(
        "outbox_message",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("destination", sa.String(length=64), nullable=False),
        sa.Column("message_type", sa.String(length=40), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("answered_at", UTCDateTime(), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("reason", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id"),
    )
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_destination", ["destination", "status"], unique=False)
        batch_op.create_index("ix_outbox_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index("ix_outbox_expiry", ["status", "expires_at"], unique=False)

    op.create_table(
        "link_code",
        sa.Column("code_digest", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("partner", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
        ),
        sa.PrimaryKeyConstraint("code_digest"),
    )
    op.create_table(
        "partner_link",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("partner", sa.String(length=64), nullable=False),
        sa.Column("our_subject", sa.String(length=64), nullable=False),
        sa.Column("partner_subject", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("customer_id", "partner", name="uq_partner_link_customer"),
        sa.UniqueConstraint("partner", "our_subject", name="uq_partner_link_subject"),
    )


def downgrade() -> None:
    op.drop_table("partner_link")
    op.drop_table("link_code")
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_expiry")
        batch_op.drop_index("ix_outbox_due")
        batch_op.drop_index("ix_outbox_destination")

    op.drop_table("outbox_message")
    op.drop_table("inbox_message")
    op.drop_table("federation_manifest")
    with op.batch_alter_table("federated_operation", schema=None) as batch_op:
        batch_op.drop_index("ix_federated_operation_peer")
        batch_op.drop_index("ix_federated_operation_customer")

    op.drop_table("federated_operation")
    with op.batch_alter_table("clearing_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_clearing_entry_peer")

    op.drop_table("clearing_entry")
