"""Audit log: an append-only, hash-chained record of staff access to personal data.

Triggers refuse UPDATE of ``audit_entry`` and ``audit_anchor``, DELETE of
``audit_anchor``, and DELETE of an ``audit_entry`` row unless an anchor
covers its seq (retention prunes a prefix only; docs/audit.md).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from node.db import UTCDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
COVERED = "(SELECT COALESCE(MAX(through_seq), 0) FROM audit_anchor)"


def upgrade() -> None:
    op.create_table(
        "audit_entry",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=60), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=True),
        sa.Column("purpose", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.create_index("ix_audit_entry_customer", ["customer_id", "seq"], unique=False)
    op.create_table(
        "audit_anchor",
        sa.Column("id", BigId, nullable=False),
        sa.Column("through_seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("entries", sa.BigInteger(), nullable=False),
        sa.Column("pruned_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("through_seq"),
    )
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_triggers()
    else:
        _sqlite_triggers()


def _sqlite_triggers() -> None:
    for table in ("audit_entry", "audit_anchor"):
        op.execute(
            f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, 'konsort: {table} is append-only'); END"
        )
    op.execute(
        "CREATE TRIGGER audit_anchor_no_delete BEFORE DELETE ON audit_anchor "
        "BEGIN SELECT RAISE(ABORT, 'konsort: audit_anchor is append-only'); END"
    )
    op.execute(
        "CREATE TRIGGER audit_entry_no_delete BEFORE DELETE ON audit_entry "
        f"WHEN OLD.seq > {COVERED} "
        "BEGIN SELECT RAISE(ABORT, 'konsort: audit entries go only behind an anchor'); END"
    )


def _postgresql_triggers() -> None:
    op.execute(
        f"""
        CREATE FUNCTION konsort_audit_prune_only() RETURNS trigger AS $$
        BEGIN
            IF OLD.seq <= {COVERED} THEN
                RETURN OLD;
            END IF;
            RAISE EXCEPTION 'konsort: audit entries go only behind an anchor';
        END;
        $$ LANGUAGE plpgsql
        """
    )
    op.execute(
        """
        CREATE FUNCTION konsort_audit_append_only() RETURNS trigger AS $$
        BEGIN
            RAISE EXCEPTION 'konsort: % is append-only', TG_TABLE_NAME;
        END;
        $$ LANGUAGE plpgsql
        """
    )
    for table in ("audit_entry", "audit_anchor"):
        op.execute(
            f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION konsort_audit_append_only()"
        )
    op.execute(
        "CREATE TRIGGER audit_anchor_no_delete BEFORE DELETE ON audit_anchor "
        "FOR EACH ROW EXECUTE FUNCTION konsort_audit_append_only()"
    )
    op.execute(
        "CREATE TRIGGER audit_entry_no_delete BEFORE DELETE ON audit_entry "
        "FOR EACH ROW EXECUTE FUNCTION konsort_audit_prune_only()"
    )


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name, table in (
        ("audit_entry_no_update", "audit_entry"),
        ("audit_entry_no_delete", "audit_entry"),
        ("audit_anchor_no_update", "audit_anchor"),
        ("audit_anchor_no_delete", "audit_anchor"),
    ):
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {table}" if postgresql else ""))
    if postgresql:
        op.execute("DROP FUNCTION IF EXISTS konsort_audit_prune_only()")
        op.execute("DROP FUNCTION IF EXISTS konsort_audit_append_only()")
    op.drop_table("audit_anchor")
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_entry_customer")
    op.drop_table("audit_entry")
