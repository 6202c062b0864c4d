"""Upgrades: a node refuses a database that is empty, one migration behind or
newer than its code, with one clear line and exit status 2 (never a
traceback), from `konsort serve`, the other commands and create_app alike;
`konsort db upgrade` brings a database up and changes nothing the second time.

Every test runs on SQLite, and on PostgreSQL when KONSORT_TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, event, text
from starlette.testclient import TestClient

from bench.processes import child_env, free_port
from node.app import create_app
from node.clock import ManualClock
from node.db import Database, make_engine
from node.errors import SchemaError
from node.migrate import alembic_config, current_revision, head_revision
from node.secrets import NodeSecrets
from node.settings import load_settings
from tests.conftest import PostgresDatabases
from tests.node.test_cli import konsort

WRITES = ("CREATE", "ALTER", "DROP", "INSERT", "UPDATE", "DELETE")


@pytest.fixture
def node_dir(tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]) -> Path:
    directory = tmp_path / "cafe"
    args = ("init", "--node-id", "cafe", "--database-url", database_url)
    assert konsort(capsys, "--data-dir", str(directory), *args)[0] == 0
    return directory


@pytest.fixture
def empty_database_url(
    backend: str, postgres: PostgresDatabases | None, tmp_path: Path
) -> Iterator[str]:
    """A database with nothing in it: an empty SQLite file, a new PostgreSQL database."""
    if backend == "sqlite":
        path = tmp_path / "empty" / "konsort.db"
        path.parent.mkdir()
        path.touch()
        yield f"sqlite:///{path}"
        return
    assert postgres is not None
    name = postgres.create()
    yield postgres.url_for(name)
    postgres.drop(name)


def previous_revision() -> str:
    script = ScriptDirectory.from_config(alembic_config(""))
    down = script.get_revision(head_revision()).down_revision
    assert isinstance(down, str), "the test needs one migration before head"
    return down


def downgrade_one(url: str) -> None:
    """Alembic's own downgrade to the revision before head."""
    engine = make_engine(url, pooled=False)
    config = alembic_config(url)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "-1")
    engine.dispose()


def stamp(url: str, revision: str) -> None:
    engine = make_engine(url, pooled=False)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    engine.dispose()


def revision_of(url: str) -> str | None:
    engine = make_engine(url, pooled=False)
    try:
        return current_revision(engine)
    finally:
        engine.dispose()


def serve(directory: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`konsort serve` as the operator starts it; it must stop before it serves."""
    args = ["-m", "node.cli", "--data-dir", str(directory), "serve", "--port", str(free_port())]
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        env=child_env(**env),
        timeout=120,
        check=False,
    )


def assert_refused(completed: subprocess.CompletedProcess[str], message: str) -> None:
    assert completed.returncode == 2, completed.stderr
    assert completed.stderr == f"konsort: {message}\n"
    assert "Traceback" not in completed.stdout + completed.stderr


def assert_app_refuses(directory: Path, url: str, message: str) -> None:
    settings = load_settings(
        environ={}, node_id="cafe", data_dir=directory, database_url=url,
        expiry_interval_seconds=0, program_jobs_interval_seconds=0,
    )  # fmt: skip
    db = Database(url)
    app = create_app(
        settings,
        clock=ManualClock(),
        secrets=NodeSecrets.load(directory / "keys"),
        database=db,
        run_jobs=False,
    )
    try:
        with pytest.raises(SchemaError) as refused:
            with TestClient(app):
                pass
        assert refused.value.message == message
    finally:
        db.dispose()


@contextmanager
def statements() -> Iterator[list[str]]:
    """Every SQL statement any engine sends while the block runs."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement.strip())

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", record)


def writes(seen: list[str]) -> list[str]:
    return [s for s in seen if s.split(None, 1)[0].upper() in WRITES]


def test_an_empty_database_is_refused_with_one_line(
    node_dir: Path, empty_database_url: str, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    message = "the database has no Konsort schema; run `konsort db upgrade`"

    assert_refused(serve(node_dir, KONSORT_DATABASE_URL=empty_database_url), message)
    assert_app_refuses(node_dir, empty_database_url, message)
    monkeypatch.setenv("KONSORT_DATABASE_URL", empty_database_url)
    assert konsort(capsys, "--data-dir", str(node_dir), "apikey", "list")[::2] == (
        2,
        f"konsort: {message}\n",
    )
    assert revision_of(empty_database_url) is None  # refusing created nothing


def test_a_database_one_migration_behind_is_refused_until_upgraded(
    node_dir: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    downgrade_one(database_url)
    behind, head = previous_revision(), head_revision()
    message = f"the database is at {behind}, behind {head}; run `konsort db upgrade`"

    assert_refused(serve(node_dir), message)
    assert_app_refuses(node_dir, database_url, message)
    code, _, err = konsort(capsys, "--data-dir", str(node_dir), "ledger", "verify")
    assert (code, err) == (2, f"konsort: {message}\n")

    with statements() as first:
        code, out, _ = konsort(capsys, "--data-dir", str(node_dir), "db", "upgrade")
    assert (code, out) == (0, f"database at schema {head}\n")
    assert any("alembic_version" in s for s in writes(first)), first
    assert revision_of(database_url) == head
    code, out, _ = konsort(capsys, "--data-dir", str(node_dir), "ledger", "verify")
    assert code == 0 and out.endswith("ledger OK\n")


def test_db_upgrade_twice_changes_nothing_the_second_time(
    node_dir: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    downgrade_one(database_url)
    with statements() as first:
        assert konsort(capsys, "--data-dir", str(node_dir), "db", "upgrade")[0] == 0
    with statements() as second:
        code, out, _ = konsort(capsys, "--data-dir", str(node_dir), "db", "upgrade")

    assert writes(first)  # the missing migration ran
    assert (code, out) == (0, f"database at schema {head_revision()}\n")
    assert writes(second) == []
    code, out, _ = konsort(capsys, "--data-dir", str(node_dir), "db", "current")
    assert out == f"database: {head_revision()}; code: {head_revision()}\n"


def test_a_database_newer_than_the_code_is_refused_and_left_alone(
    node_dir: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    stamp(database_url, "9999")
    message = (
        f"the database is at revision 9999, newer than this Konsort understands "
        f"(head {head_revision()}); upgrade Konsort before starting this node"
    )

    assert_refused(serve(node_dir), message)
    assert_app_refuses(node_dir, database_url, message)
    with statements() as seen:
        code, _, err = konsort(capsys, "--data-dir", str(node_dir), "db", "upgrade")
    assert (code, err) == (2, f"konsort: {message}\n")
    assert writes(seen) == []
    assert revision_of(database_url) == "9999"
