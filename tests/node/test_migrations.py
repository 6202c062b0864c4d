"""The Alembic migrations are the schema, and the node refuses a schema it does not know."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlmodel import SQLModel
from starlette.testclient import TestClient

import node.store.audit_models  # noqa: F401
import node.store.consent_models  # noqa: F401
import node.store.federation_models  # noqa: F401
import node.store.job_models  # noqa: F401
import node.store.membership_models  # noqa: F401
import node.store.models  # noqa: F401
import node.store.notice_models  # noqa: F401
import node.store.offer_models  # noqa: F401
import node.store.program_models  # noqa: F401
import node.store.request_models  # noqa: F401
import node.store.retention_models  # noqa: F401
import node.store.settlement_models  # noqa: F401
import node.store.staff_models  # noqa: F401
from node.app import create_app
from node.clock import ManualClock
from node.db import Database
from node.errors import SchemaError
from node.migrate import check_schema, head_revision, upgrade
from node.secrets import NodeSecrets
from node.settings import Settings


def test_models_match_the_migrated_schema(db: Database) -> None:
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []


def test_upgrade_twice_is_harmless(db: Database) -> None:
    assert upgrade(db.engine) == head_revision()
    assert upgrade(db.engine) == head_revision()
    check_schema(db.engine)


def test_a_newer_database_is_refused(
    db: Database, settings: Settings, clock: ManualClock, node_secrets: NodeSecrets
) -> None:
    with db.transaction() as session:
        session.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(SchemaError, match="newer than this Konsort understands"):
        check_schema(db.engine)
    app = create_app(settings, clock=clock, secrets=node_secrets, database=db, run_jobs=False)
    with pytest.raises(SchemaError):
        with TestClient(app):
            pass


def test_an_empty_database_is_refused(tmp_path: object) -> None:
    db = Database(f"sqlite:///{tmp_path}/empty.db")
    with pytest.raises(SchemaError, match="run `konsort db upgrade`"):
        check_schema(db.engine)
    db.dispose()
