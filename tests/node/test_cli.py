"""The `konsort` command, run in-process through its main()."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from sqlalchemy import text

from node.cli import main
from node.db import Database
from node.migrate import check_schema, head_revision


def konsort(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def node_dir(tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]) -> Path:
    directory = tmp_path / "cafe"
    code, out, _ = konsort(
        capsys,
        "--data-dir",
        str(directory),
        "init",
        "--node-id",
        "cafe",
        "--database-url",
        database_url,
    )
    assert code == 0, out
    return directory


def test_init_writes_a_private_key_a_config_and_the_schema(
    node_dir: Path, database_url: str
) -> None:
    key = node_dir / "keys" / "master.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700
    config = (node_dir / "konsort.toml").read_text()
    assert 'node_id = "cafe"' in config
    db = Database(database_url)
    check_schema(db.engine)
    db.dispose()


def test_init_and_upgrade_are_safe_to_repeat(
    node_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = (node_dir / "keys" / "master.key").read_bytes()
    code, out, _ = konsort(capsys, "--data-dir", str(node_dir), "init")
    assert code == 0 and "already present" in out
    assert (node_dir / "keys" / "master.key").read_bytes() == key
    for _ in range(2):
        code, out, _ = konsort(capsys, "--data-dir", str(node_dir), "db", "upgrade")
        assert code == 0 and head_revision() in out
    code, out, _ = konsort(capsys, "--data-dir", str(node_dir), "db", "current")
    assert out.strip() == f"database: {head_revision()}; code: {head_revision()}"


def test_apikey_create_list_revoke(node_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ("--data-dir", str(node_dir), "apikey")
    code, out, err = konsort(capsys, *base, "create", "--name", "till 1")
    assert code == 0 and "shown only once" in err
    key_id, token = out.splitlines()[0].split("\t")[0], out.splitlines()[1]
    assert token.startswith(f"ksk_{key_id}_")
    code, out, _ = konsort(capsys, *base, "list")
    assert key_id in out and "active" in out and token not in out
    assert konsort(capsys, *base, "revoke", key_id)[0] == 0
    assert "revoked" in konsort(capsys, *base, "list")[1]
    code, _, err = konsort(capsys, *base, "revoke", key_id)
    assert code == 2 and "no active API key" in err


def test_ledger_verify_exit_codes(
    node_dir: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = konsort(capsys, "--data-dir", str(node_dir), "ledger", "verify")
    assert code == 0 and "ledger OK" in out
    db = Database(database_url)
    with db.transaction() as session:
        session.execute(
            text(
                "INSERT INTO account (code, kind, balance, created_at) "
                "VALUES ('customer:ghost', 'customer', 7, '2026-01-01 00:00:00')"
            )
        )
    db.dispose()
    code, out, _ = konsort(capsys, "--data-dir", str(node_dir), "ledger", "verify", "--json")
    report = json.loads(out)
    assert code == 1 and report["ok"] is False
    assert any("balance 7 but entries sum to 0" in v for v in report["violations"])


def test_ledger_expire_runs(node_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = konsort(capsys, "--data-dir", str(node_dir), "ledger", "expire")
    assert code == 0 and out.startswith("expired 0 points")


def test_clear_errors_without_init_or_with_bad_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KONSORT_PORT", "99999")
    code, _, err = konsort(capsys, "--data-dir", str(tmp_path), "db", "current")
    assert code == 2 and "setting port" in err
    monkeypatch.delenv("KONSORT_PORT")
    monkeypatch.setenv("KONSORT_EXPIRY_INTERVAL_SECONDS", "0")
    from node.app import create_app
    from node.settings import load_settings

    with pytest.raises(Exception, match="run `konsort init` first"):
        create_app(load_settings(data_dir=tmp_path))


def test_serve_refuses_several_workers_on_sqlite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = konsort(capsys, "--data-dir", str(tmp_path), "serve", "--workers", "2")
    assert code == 2 and "need PostgreSQL" in err
    monkeypatch.setenv("KONSORT_WORKERS", "2")
    code, _, err = konsort(capsys, "--data-dir", str(tmp_path), "serve")
    assert code == 2 and "need PostgreSQL" in err


def test_init_quotes_names_and_keeps_the_config_private(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / "bikes"
    name = 'Bob "The" Bikes \\ Co'
    assert konsort(capsys, "--data-dir", str(directory), "init", "--display-name", name)[0] == 0
    config = directory / "konsort.toml"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    from node.settings import load_settings

    assert load_settings(config, environ={}).display_name == name
    code, out, _ = konsort(capsys, "--data-dir", str(directory), "db", "current")
    assert code == 0


def test_commands_before_init_say_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for command in (("apikey", "list"), ("ledger", "verify"), ("db", "current")):
        code, _, err = konsort(capsys, "--data-dir", str(tmp_path), *command)
        assert code == 2 and "run `konsort init` there first" in err, command
    assert not (tmp_path / "konsort.db").exists()


def test_serve_refuses_a_foreign_schema_with_a_clear_line(
    node_dir: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = Database(database_url)
    with db.transaction() as session:
        session.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    db.dispose()
    code, _, err = konsort(capsys, "--data-dir", str(node_dir), "serve", "--port", "1")
    assert code == 2 and "newer than this Konsort understands" in err


def test_an_unreachable_database_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KONSORT_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:1/none")
    code, out, err = konsort(capsys, "--data-dir", str(tmp_path), "db", "current")
    assert code == 2 and err.startswith("konsort: cannot reach the database")
    assert "Traceback" not in err
