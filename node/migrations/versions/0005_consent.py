"""Consent: purposes with versioned wording, append-only consent records, restriction.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from node.db import UTCDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

#: (table, actions the trigger refuses). Retention may delete consent records.
APPEND_ONLY = (
    ("consent_wording", ("UPDATE", "DELETE")),
    ("consent_record", ("UPDATE",)),
    ("processing_restriction", ("UPDATE",)),
)

#: Version 1 of the default purposes, each its own choice (never bundled).
DEFAULT_WORDING = (
    (
        "membership",
        "contract",
        "Membership",
        "We keep your membership: your points, your purchases at our tills and your "
        "rewards. This is our agreement with you, not a consent; it ends when you "
        "leave the programme.",
    ),
    (
        "partner_transfers",
        "consent",
        "Partner transfers",
        "You may link your account with partner businesses in the consortium, move "
        "points to them and redeem their rewards. We then share only a pseudonym and "
        "point amounts with the partner you choose, never your name or contact details.",
    ),
    (
        "marketing",
        "consent",
        "Marketing messages",
        "We may send you news and offers by email or text message.",
    ),
    (
        "profiling",
        "consent",
        "Profiling",
        "We may analyse your purchases to understand your preferences. Saying no "
        "never costs you your ordinary points and rewards.",
    ),
    (
        "personalised_offers",
        "consent",
        "Personalised offers",
        "We may choose offers for you based on what you buy.",
    ),
    (
        "analytics",
        "consent",
        "Analytics",
        "We may include your activity in statistics that help us improve the programme.",
    ),
)


def upgrade() -> None:
    wording = op.create_table(
        "consent_wording",
        sa.Column("id", BigId, nullable=False),
        sa.Column("purpose", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("legal_basis", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("published_by", sa.String(length=60), nullable=False),
        sa.Column("published_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("purpose", "version", name="uq_consent_wording_version"),
    )
    op.create_table(
        "consent_record",
        sa.Column("id", BigId, nullable=False),
        sa.Column("public_id", sa.String(length=40), nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("purpose", sa.String(length=40), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("wording_version", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("actor", sa.String(length=60), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("public_id"),
    )
    with op.batch_alter_table("consent_record", schema=None) as batch_op:
        batch_op.create_index(
            "ix_consent_record_current", ["customer_id", "purpose", "id"], unique=False
        )
        batch_op.create_index("ix_consent_record_recorded", ["recorded_at"], unique=False)
    op.create_table(
        "processing_restriction",
        sa.Column("id", BigId, nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("restricted", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=60), nullable=False),
        sa.Column("actor", sa.String(length=60), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("processing_restriction", schema=None) as batch_op:
        batch_op.create_index(
            "ix_processing_restriction_current", ["customer_id", "id"], unique=False
        )
    published = datetime(2026, 1, 1, tzinfo=UTC)
    op.bulk_insert(
        wording,
        [
            {
                "purpose": purpose,
                "version": 1,
                "legal_basis": basis,
                "title": title,
                "text": text,
                "published_by": "konsort",
                "published_at": published,
            }
            for purpose, basis, title, text in DEFAULT_WORDING
        ],
    )
    _append_only_triggers()


def _append_only_triggers() -> None:
    # konsort_append_only() exists on PostgreSQL since revision 0001.
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table, actions in APPEND_ONLY:
        for action in actions:
            name = f"{table}_no_{action.lower()}"
            if postgresql:
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
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table, actions in APPEND_ONLY:
        for action in actions:
            suffix = f" ON {table}" if postgresql else ""
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{action.lower()}{suffix}")
    with op.batch_alter_table("processing_restriction", schema=None) as batch_op:
        batch_op.drop_index("ix_processing_restriction_current")
    op.drop_table("processing_restriction")
    with op.batch_alter_table("consent_record", schema=None) as batch_op:
        batch_op.drop_index("ix_consent_record_recorded")
        batch_op.drop_index("ix_consent_record_current")
    op.drop_table("consent_record")
    op.drop_table("consent_wording")
