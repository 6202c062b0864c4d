"""Schema migrations (Alembic) and the start-up check against the database.

``konsort db upgrade`` and the tests both call :func:`upgrade`. A node refuses
to start when the database is behind (run the upgrade) or ahead (a newer
Konsort wrote it) of the migrations this code ships.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from node.errors import SchemaError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    if len(heads) != 1:
        raise SchemaError(f"migrations have {len(heads)} heads; expected exactly one")
    return heads[0]


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def known_revisions() -> set[str]:
    return {
        rev.revision for rev in ScriptDirectory.from_config(alembic_config("")).walk_revisions()
    }


def _newer_than_code(current: str) -> SchemaError:
    return SchemaError(
        f"the database is at revision {current}, newer than this Konsort understands "
        f"(head {head_revision()}); upgrade Konsort before starting this node"
    )


def upgrade(engine: Engine) -> str:
    """Bring the database to the newest schema; safe to run any number of times.

    A database a newer Konsort wrote is refused (SchemaError), never touched.
    """
    current = current_revision(engine)
    if current is not None and current not in known_revisions():
        raise _newer_than_code(current)
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    return head_revision()


def check_schema(engine: Engine) -> None:
    """Raise SchemaError unless the database is exactly at this code's head."""
    current = current_revision(engine)
    head = head_revision()
    if current == head:
        return
    if current is None:
        raise SchemaError("the database has no Konsort schema; run `konsort db upgrade`")
    if current not in known_revisions():
        raise _newer_than_code(current)
    raise SchemaError(f"the database is at {current}, behind {head}; run `konsort db upgrade`")
