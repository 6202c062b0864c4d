"""The PostgreSQL procedure of docs/operations.md, with the real tools: `konsort
backup` keeps the keys and settings and prints a pg_dump line; that line
dumps the database; pg_restore loads it into a new database; `konsort restore`
puts the keys back and verifies the restored ledger, and the restored keys
read the members' personal data.

The server is KONSORT_TEST_DATABASE_URL's, else postgres@127.0.0.1:5432 (trust
auth, as on CI). Every database the test makes is dropped afterwards. It is
skipped only when pg_dump or pg_restore is missing and CI is not set.
"""

from __future__ import annotations

import glob
import json
import os
import shlex
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

import node.cli_backup
from node.clock import ManualClock
from node.db import Database
from node.migrate import head_revision
from node.secrets import NodeSecrets
from node.services.customers import find_by_email
from node.services.ledger import customer_balance
from node.services.verification import verify_ledger
from node.settings import load_settings
from tests.conftest import PG_ENV, PostgresDatabases
from tests.factories import earn, make_customer
from tests.node.test_cli import konsort

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def postgres_tool(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is missing on CI")
        pytest.skip(f"{name} is not installed")
    return found


@pytest.fixture
def server() -> Iterator[PostgresDatabases]:
    url = os.environ.get(PG_ENV) or DEFAULT_SERVER
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    databases = PostgresDatabases(url)
    try:
        yield databases
    finally:
        databases.close()


def run(args: list[str]) -> None:
    completed = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False)
    assert completed.returncode == 0, completed.stderr


def test_pg_dump_and_pg_restore_bring_back_a_node(
    server: PostgresDatabases, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    pg_dump, pg_restore = postgres_tool("pg_dump"), postgres_tool("pg_restore")
    monkeypatch.setattr(node.cli_backup, "CLOCK", ManualClock(NOW))
    monkeypatch.delenv("KONSORT_DATABASE_URL", raising=False)
    source_url = server.url_for(server.create())
    directory = tmp_path / "bookshop"
    init = ("init", "--node-id", "bookshop", "--database-url", source_url)
    assert konsort(capsys, "--data-dir", str(directory), *init)[0] == 0
    settings = load_settings(directory / "konsort.toml", environ={}, data_dir=directory)
    source = Database(source_url)
    secrets = NodeSecrets.load(settings.keys_dir)
    customer = make_customer(source, secrets, ManualClock(NOW), email="bo@example.com")
    earn(source, settings, ManualClock(NOW), customer, 31_000)
    totals = verify_ledger(source).totals
    source.dispose()

    # 1. The archive: keys and settings only, and the pg_dump line for the database.
    archive = tmp_path / "bookshop.tar.gz"
    code, out, err = konsort(capsys, "--data-dir", str(directory), "backup", "--output",
                             str(archive))  # fmt: skip
    assert code == 0, err
    with tarfile.open(archive, "r:gz") as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert "konsort.db" not in names and "keys/master.key" in names
    assert (manifest["backend"], manifest["schema_revision"]) == ("postgresql", head_revision())
    dump = tmp_path / "bookshop-20260302T093000Z.dump"
    line = out.splitlines()[-1]
    parsed = make_url(source_url)
    assert line == (
        f"pg_dump -Fc -h {parsed.host} -p {parsed.port or 5432} -U {parsed.username} "
        f"-d {parsed.database} -f {tmp_path}/konsort-{dump.name}"
    )

    # 2. The printed line, run as it stands (with this machine's pg_dump).
    run([pg_dump, *shlex.split(line)[1:]])
    dump = tmp_path / f"konsort-{dump.name}"
    assert dump.read_bytes().startswith(b"PGDMP")  # the custom format (-Fc)

    # 3. The node is lost. Keys restored before the database: said so, exit 2.
    shutil.rmtree(directory)
    target_url = server.url_for(server.create())
    monkeypatch.setenv("KONSORT_DATABASE_URL", target_url)
    early = tmp_path / "too-early"
    code, _, err = konsort(capsys, "--data-dir", str(early), "restore", str(archive))
    assert code == 2 and "restore it with pg_restore first" in err, err
    assert (early / "keys" / "master.key").exists()

    # 4. As documented: pg_restore into a new database, then `konsort restore`.
    target = make_url(target_url)
    run([pg_restore, "--no-owner", "-h", str(target.host), "-p", str(target.port or 5432),
         "-U", str(target.username), "-d", str(target.database), str(dump)])  # fmt: skip
    code, out, err = konsort(capsys, "--data-dir", str(directory), "restore", str(archive))
    assert code == 0 and out.endswith("ledger OK\n"), out + err

    restored = Database(target_url)
    try:
        keys = NodeSecrets.load(directory / "keys")
        assert find_by_email(restored, secrets=keys, email="bo@example.com") == customer
        assert customer_balance(restored, customer_id=customer, now=NOW).points == 310
        assert verify_ledger(restored).totals == totals
    finally:
        restored.dispose()
