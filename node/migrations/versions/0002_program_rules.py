"""Program rules: versions, tiers, bonuses, refunds, store credit, rewards,
vouchers, webhooks and expiry warnings.

``program_version`` and ``tier_change`` are append-only like the ledger.
Store-credit accounts (kind ``credit``) may never go below zero, as customer
point accounts may not.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 05:41:42.042464
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from node.db import UTCDateTime

APPEND_ONLY = ("program_version", "tier_change")


revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "program_version",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("config", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("comment", sa.String(length=200), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("version"),
    )
    op.create_table(
        "reward_stock",
        sa.Column("reward_code", sa.String(length=40), nullable=False),
        sa.Column("issued", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("reward_code"),
    )
    op.create_table(
        "tier_change",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("from_tier", sa.String(length=40), nullable=True),
        sa.Column("to_tier", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("qualifying_value", sa.BigInteger(), nullable=False),
        sa.Column("program_version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("tier_change", schema=None) as batch_op:
        batch_op.create_index("ix_tier_change_customer", ["customer_id", "id"], unique=False)

    op.create_table(
        "webhook_endpoint",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("events", sa.Text(), nullable=False),
        sa.Column("secret", sa.LargeBinary(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "webhook_event",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("public_id", sa.String(length=40), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("fanned_out", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("public_id"),
    )
    op.create_table(
        "birthday_index",
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("month_digest", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
        ),
        sa.PrimaryKeyConstraint("customer_id"),
    )
    with op.batch_alter_table("birthday_index", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_birthday_index_month_digest"), ["month_digest"], unique=False
        )

    op.create_table(
        "bonus_award",
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("period", sa.String(length=40), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("transaction_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["ledger_transaction.id"],
        ),
        sa.PrimaryKeyConstraint("customer_id", "kind", "period"),
    )
    op.create_table(
        "customer_tier",
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("tier", sa.String(length=40), nullable=False),
        sa.Column("since", UTCDateTime(), nullable=False),
        sa.Column("review_at", UTCDateTime(), nullable=False),
        sa.Column("grace_until", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
        ),
        sa.PrimaryKeyConstraint("customer_id"),
    )
    with op.batch_alter_table("customer_tier", schema=None) as batch_op:
        batch_op.create_index("ix_customer_tier_review", ["review_at"], unique=False)

    op.create_table(
        "referral",
        sa.Column("referred_id", sa.String(length=40), nullable=False),
        sa.Column("referrer_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("rewarded_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["referred_id"],
            ["customer.id"],
        ),
        sa.PrimaryKeyConstraint("referred_id"),
    )
    with op.batch_alter_table("referral", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_referral_referrer_id"), ["referrer_id"], unique=False)

    op.create_table(
        "voucher",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("reward_code", sa.String(length=40), nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("transaction_id", sa.BigInteger(), nullable=False),
        sa.Column("refund_transaction_id", sa.BigInteger(), nullable=True),
        sa.Column("issued_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.Column("used_reference", sa.String(length=200), nullable=True),
        sa.Column("cancelled_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["refund_transaction_id"],
            ["ledger_transaction.id"],
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["ledger_transaction.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    with op.batch_alter_table("voucher", schema=None) as batch_op:
        batch_op.create_index(
            "ix_voucher_customer_reward", ["customer_id", "reward_code"], unique=False
        )

    op.create_table(
        "webhook_delivery",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("endpoint_id", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["webhook_endpoint.id"],
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["webhook_event.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("webhook_delivery", schema=None) as batch_op:
        batch_op.create_index(
            "ix_webhook_delivery_due", ["status", "next_attempt_at"], unique=False
        )
        batch_op.create_index("ux_webhook_delivery", ["event_id", "endpoint_id"], unique=True)

    op.create_table(
        "purchase_line",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("purchase_id", sa.BigInteger(), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["purchase_id"],
            ["purchase.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("purchase_line", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_purchase_line_purchase_id"), ["purchase_id"], unique=False
        )

    op.create_table(
        "refund",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("public_id", sa.String(length=40), nullable=False),
        sa.Column("purchase_id", sa.BigInteger(), nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("transaction_id", sa.BigInteger(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("debt_points", sa.BigInteger(), nullable=False),
        sa.Column("cashback", sa.BigInteger(), nullable=False),
        sa.Column("debt_cashback", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["purchase_id"],
            ["purchase.id"],
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["ledger_transaction.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("public_id"),
    )
    with op.batch_alter_table("refund", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_refund_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_refund_purchase_id"), ["purchase_id"], unique=False)

    op.create_table(
        "expiry_warning",
        sa.Column("lot_id", sa.BigInteger(), nullable=False),
        sa.Column("warned_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["lot_id"],
            ["point_lot.id"],
        ),
        sa.PrimaryKeyConstraint("lot_id"),
    )
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("unit", sa.String(length=10), server_default="points", nullable=False)
        )

    with op.batch_alter_table("purchase", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("program_version", sa.Integer(), server_default="0", nullable=False)
        )
        for column in ("cashback", "refunded_amount", "reversed_points", "reversed_cashback"):
            batch_op.add_column(
                sa.Column(column, sa.BigInteger(), server_default="0", nullable=False)
            )
    with op.batch_alter_table("purchase", schema=None) as batch_op:
        batch_op.create_index(
            "ix_purchase_customer_time",
            [
                "customer_id",
                "occurred_at",
                "amount",
                "refunded_amount",
                "points",
                "reversed_points",
            ],
            unique=False,
        )
    with op.batch_alter_table("point_lot", schema=None) as batch_op:
        batch_op.create_index(
            "ix_point_lot_account_expiry",
            ["account_id", "expires_at"],
            unique=False,
            postgresql_where=sa.text("remaining > 0"),
            sqlite_where=sa.text("remaining > 0"),
        )
    with op.batch_alter_table("webhook_event", schema=None) as batch_op:
        batch_op.create_index(
            "ix_webhook_event_pending",
            ["id"],
            unique=False,
            postgresql_where=sa.text("NOT fanned_out"),
            sqlite_where=sa.text("NOT fanned_out"),
        )
    _extra_guards()


def _extra_guards() -> None:
    dialect = op.get_bind().dialect.name
    for table in APPEND_ONLY:
        for action in ("UPDATE", "DELETE"):
            name = f"{table}_no_{action.lower()}"
            if dialect == "postgresql":
                op.execute(
                    f"CREATE TRIGGER {name} BEFORE {action} ON {table} "
                    "FOR EACH ROW EXECUTE FUNCTION konsort_append_only()"
                )
            else:
                op.execute(
                    f"CREATE TRIGGER {name} BEFORE {action} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'konsort: {table} is append-only'); END"
                )
    if dialect == "postgresql":
        op.execute(
            "ALTER TABLE account ADD CONSTRAINT ck_account_credit_not_negative "
            "CHECK (kind <> 'credit' OR balance >= 0)"
        )
    else:  # SQLite cannot add a CHECK to an existing table; a trigger does the same
        for action in ("INSERT", "UPDATE"):
            op.execute(
                f"CREATE TRIGGER account_credit_not_negative_{action.lower()} "
                f"BEFORE {action} ON account WHEN NEW.kind = 'credit' AND NEW.balance < 0 "
                "BEGIN SELECT RAISE(ABORT, 'konsort: store credit cannot go below zero'); END"
            )


def downgrade() -> None:
    with op.batch_alter_table("webhook_event", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_event_pending")
    with op.batch_alter_table("point_lot", schema=None) as batch_op:
        batch_op.drop_index("ix_point_lot_account_expiry")
    dialect = op.get_bind().dialect.name
    for table in APPEND_ONLY:
        for action in ("update", "delete"):
            on = f" ON {table}" if dialect == "postgresql" else ""
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{action}{on}")
    if dialect == "postgresql":
        op.execute("ALTER TABLE account DROP CONSTRAINT ck_account_credit_not_negative")
    else:
        for action in ("insert", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS account_credit_not_negative_{action}")
    with op.batch_alter_table("purchase", schema=None) as batch_op:
        batch_op.drop_index("ix_purchase_customer_time")
        for column in (
            "program_version",
            "cashback",
            "refunded_amount",
            "reversed_points",
            "reversed_cashback",
        ):
            batch_op.drop_column(column)

    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.drop_column("unit")

    op.drop_table("expiry_warning")
    with op.batch_alter_table("refund", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_refund_purchase_id"))
        batch_op.drop_index(batch_op.f("ix_refund_customer_id"))

    op.drop_table("refund")
    with op.batch_alter_table("purchase_line", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_purchase_line_purchase_id"))

    op.drop_table("purchase_line")
    with op.batch_alter_table("webhook_delivery", schema=None) as batch_op:
        batch_op.drop_index("ux_webhook_delivery")
        batch_op.drop_index("ix_webhook_delivery_due")

    op.drop_table("webhook_delivery")
    with op.batch_alter_table("voucher", schema=None) as batch_op:
        batch_op.drop_index("ix_voucher_customer_reward")

    op.drop_table("voucher")
    with op.batch_alter_table("referral", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_referral_referrer_id"))

    op.drop_table("referral")
    with op.batch_alter_table("customer_tier", schema=None) as batch_op:
        batch_op.drop_index("ix_customer_tier_review")

    op.drop_table("customer_tier")
    op.drop_table("bonus_award")
    with op.batch_alter_table("birthday_index", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_birthday_index_month_digest"))

    op.drop_table("birthday_index")
    op.drop_table("webhook_event")
    op.drop_table("webhook_endpoint")
    with op.batch_alter_table("tier_change", schema=None) as batch_op:
        batch_op.drop_index("ix_tier_change_customer")

    op.drop_table("tier_change")
    op.drop_table("reward_stock")
    op.drop_table("program_version")
