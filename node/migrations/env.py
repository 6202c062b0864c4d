"""Alembic environment: runs migrations on the connection node.migrate hands over."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import node.store.audit_models  # noqa: F401
import node.store.consent_models  # noqa: F401
import node.store.federation_models  # noqa: F401
import node.store.job_models  # noqa: F401
import node.store.membership_models  # noqa: F401
import node.store.models  # noqa: F401  (registers the tables on SQLModel.metadata)
import node.store.notice_models  # noqa: F401
import node.store.offer_models  # noqa: F401
import node.store.program_models  # noqa: F401
import node.store.request_models  # noqa: F401
import node.store.retention_models  # noqa: F401
import node.store.settlement_models  # noqa: F401
import node.store.staff_models  # noqa: F401
from node.db import make_engine

config = context.config
target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "", pooled=False)
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
