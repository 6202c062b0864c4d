"""Shared fixtures: a migrated database per test, on SQLite and (when
KONSORT_TEST_DATABASE_URL is set) on PostgreSQL too.

The real Alembic migrations build one template per backend per test session;
each test gets a fresh copy (a file copy on SQLite, ``CREATE DATABASE ...
TEMPLATE`` on PostgreSQL). Every PostgreSQL database a run creates carries a
random name and is dropped at the end, so parallel and repeated runs never
collide.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from node.clock import ManualClock
from node.db import Database, make_engine
from node.migrate import upgrade
from node.secrets import NodeSecrets
from node.settings import Settings, load_settings

PG_ENV = "KONSORT_TEST_DATABASE_URL"
BACKENDS = ["sqlite", *(["postgresql"] if os.environ.get(PG_ENV) else [])]


def _admin_url() -> str:
    url = os.environ[PG_ENV]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


class PostgresDatabases:
    """Creates and drops uniquely named databases on the server under test."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        self.created: list[str] = []

    def url_for(self, name: str) -> str:
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def create(self, template: str | None = None) -> str:
        name = f"konsort_test_{uuid.uuid4().hex[:16]}"
        clause = f" TEMPLATE {template}" if template else ""
        with self.engine.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}{clause}"))
        self.created.append(name)
        return name

    def drop(self, name: str) -> None:
        with self.engine.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        if name in self.created:
            self.created.remove(name)

    def close(self) -> None:
        for name in list(self.created):
            self.drop(name)
        self.engine.dispose()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresDatabases | None]:
    if PG_ENV not in os.environ:
        yield None
        return
    databases = PostgresDatabases(_admin_url())
    try:
        with databases.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # a set URL that does not answer is a failure, not a skip
        pytest.fail(f"{PG_ENV} is set but PostgreSQL does not answer: {exc}")
    yield databases
    databases.close()


@pytest.fixture(scope="session")
def templates(
    tmp_path_factory: pytest.TempPathFactory, postgres: PostgresDatabases | None
) -> dict[str, str]:
    """One migrated template per backend: a SQLite file path, a PostgreSQL database name."""
    made: dict[str, str] = {}
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}", pooled=False)
    upgrade(engine)
    engine.dispose()  # the last connection to close checkpoints and removes the WAL
    assert not Path(f"{path}-wal").exists()
    made["sqlite"] = str(path)
    if postgres is not None:
        name = postgres.create()
        engine = make_engine(postgres.url_for(name), pooled=False)
        upgrade(engine)
        engine.dispose()
        made["postgresql"] = name
    return made


def fresh_database_url(
    backend: str, templates: dict[str, str], postgres: PostgresDatabases | None, directory: Path
) -> str:
    if backend == "sqlite":
        target = directory / "konsort.db"
        shutil.copyfile(templates["sqlite"], target)
        return f"sqlite:///{target}"
    assert postgres is not None
    return postgres.url_for(postgres.create(template=templates["postgresql"]))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(
    backend: str,
    templates: dict[str, str],
    postgres: PostgresDatabases | None,
    tmp_path: Path,
) -> Iterator[str]:
    url = fresh_database_url(backend, templates, postgres, tmp_path)
    yield url
    if backend == "postgresql" and postgres is not None:
        postgres.drop(make_url(url).database or "")


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def node_secrets() -> NodeSecrets:
    return NodeSecrets.generate()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(
        environ={},
        node_id="cafe",
        display_name="Test Café",
        data_dir=tmp_path,
        database_url=database_url,
        expiry_interval_seconds=0,
        program_jobs_interval_seconds=0,
        webhook_interval_seconds=0,
        federation_interval_seconds=0,
        retention_interval_seconds=0,
        settlement_interval_seconds=0,
        health_metrics_interval_seconds=0,
        ledger_verify_interval_seconds=0,
    )
