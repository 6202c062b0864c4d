"""`konsort backup` and `konsort restore` on SQLite: one private archive with a
consistent database copy, the keys and the settings; a restore that checks
every sha256 before anything lands, and then verifies the ledger.

The restore-and-rejoin journey with real `konsort serve` processes is in
test_rejoin.py; the PostgreSQL procedure in test_pg_backup.py.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import tarfile
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

import node.cli_backup
from node.backup import create_backup
from node.clock import ManualClock
from node.db import Database
from node.migrate import check_schema, head_revision
from node.progress import Progress
from node.secrets import NodeSecrets
from node.services.customers import find_by_email
from node.services.ledger import customer_balance
from node.services.verification import verify_ledger
from node.settings import Settings, load_settings
from tests.factories import earn, make_customer
from tests.node.ops.test_upgrades import downgrade_one, previous_revision
from tests.node.test_cli import konsort

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
EMAIL = "ada@example.com"


@dataclass
class Cafe:
    directory: Path
    settings: Settings
    db: Database
    secrets: NodeSecrets
    customer: str


def node_settings(directory: Path) -> Settings:
    return load_settings(directory / "konsort.toml", environ={}, data_dir=directory)


@pytest.fixture
def cafe(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Cafe]:
    """A SQLite node made by `konsort init`, with one member who has earned."""
    directory = tmp_path / "cafe"
    assert konsort(capsys, "--data-dir", str(directory), "init", "--node-id", "cafe")[0] == 0
    settings = node_settings(directory)
    db = Database(settings.resolved_database_url)
    secrets = NodeSecrets.load(settings.keys_dir)
    clock = ManualClock(NOW)
    customer = make_customer(db, secrets, clock, email=EMAIL, name="Ada")
    earn(db, settings, clock, customer, 12_500)
    yield Cafe(directory, settings, db, secrets, customer)
    db.dispose()


@pytest.fixture(autouse=True)
def manual_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(node.cli_backup, "CLOCK", ManualClock(NOW))


def back_up(capsys: pytest.CaptureFixture[str], cafe: Cafe, output: Path) -> Path:
    code, out, err = konsort(capsys, "--data-dir", str(cafe.directory), "backup", "--output",
                             str(output))  # fmt: skip
    assert code == 0, err
    archive = output / "konsort-cafe-20260302T093000Z.tar.gz" if output.is_dir() else output
    assert out.startswith(f"wrote {archive} (mode 0600): node cafe, schema {head_revision()}")
    return archive


def members(archive: Path) -> dict[str, tuple[tarfile.TarInfo, bytes]]:
    with tarfile.open(archive, "r:gz") as tar:
        return {m.name: (m, tar.extractfile(m).read()) for m in tar}  # type: ignore[union-attr]


def test_the_archive_is_private_and_its_manifest_names_every_file(
    cafe: Cafe, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = os.umask(0)  # the loosest umask: the archive must be private anyway
    try:
        archive = back_up(capsys, cafe, tmp_path)
    finally:
        os.umask(old)

    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    found = members(archive)
    assert next(iter(found)) == "manifest.json"
    signing = [p.name for p in (cafe.directory / "keys" / "signing").iterdir()]
    assert set(found) == {
        "manifest.json", "konsort.db", "konsort.toml", "keys/master.key",
        *(f"keys/signing/{name}" for name in signing),
    }  # fmt: skip
    assert {stat.S_IMODE(info.mode) for info, _ in found.values()} == {0o600}
    manifest = json.loads(found["manifest.json"][1])
    assert manifest["format"] == "konsort-backup/1"
    assert (manifest["node_id"], manifest["backend"]) == ("cafe", "sqlite")
    assert manifest["schema_revision"] == head_revision()
    assert manifest["created_at"] == NOW.isoformat()
    listed = {f["name"]: (f["sha256"], f["size"]) for f in manifest["files"]}
    assert listed == {
        name: (hashlib.sha256(data).hexdigest(), len(data))
        for name, (_, data) in found.items()
        if name != "manifest.json"
    }
    for name in ("konsort.toml", "keys/master.key", f"keys/signing/{signing[0]}"):
        assert found[name][1] == (cafe.directory / name).read_bytes()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_backup_never_overwrites_a_file(
    cafe: Cafe, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    existing = tmp_path / "old.tar.gz"
    existing.write_bytes(b"an older backup")
    existing.chmod(0o644)

    code, _, err = konsort(capsys, "--data-dir", str(cafe.directory), "backup", "--output",
                           str(existing))  # fmt: skip

    assert (
        code == 2
        and err == f"konsort: {existing} exists already; a backup never overwrites a file\n"
    )
    assert existing.read_bytes() == b"an older backup"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cafe", "old.tar.gz"]


def test_backup_refuses_a_data_directory_without_its_master_key(
    cafe: Cafe, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (cafe.directory / "keys" / "master.key").rename(tmp_path / "elsewhere.key")

    code, _, err = konsort(capsys, "--data-dir", str(cafe.directory), "backup", "--output",
                           str(tmp_path / "b.tar.gz"))  # fmt: skip

    assert code == 2 and "no master key" in err
    assert not (tmp_path / "b.tar.gz").exists()


class StepsAfterWrites:
    """A progress factory that lets each copy step go only after the writer committed again.

    A copy that restarted on those writes would take more steps than the pages
    allow: that fails at once instead of running forever.
    """

    def __init__(
        self, written: Callable[[], int], changed: threading.Condition, pages_per_step: int
    ) -> None:
        self.written, self.changed, self.steps = written, changed, 0
        self.pages_per_step = pages_per_step

    def __call__(self, total: int | None, desc: str, unit: str) -> AbstractContextManager[Progress]:
        outer = self

        class Step:
            def advance(self, amount: int = 1) -> None:
                if desc != "backup":
                    return
                outer.steps += 1
                assert total is not None and outer.steps <= total // outer.pages_per_step + 1
                seen = outer.written()
                with outer.changed:
                    assert outer.changed.wait_for(lambda: outer.written() > seen, timeout=60)

        @contextmanager
        def bar() -> Iterator[Progress]:
            yield Step()

        return bar()


def test_backup_is_consistent_while_the_node_keeps_writing(
    cafe: Cafe, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clock = ManualClock(NOW)
    written = [0]
    changed = threading.Condition()
    stop = threading.Event()

    def writer() -> None:
        while not stop.is_set():
            earn(cafe.db, cafe.settings, clock, cafe.customer, 100)
            with changed:
                written[0] += 1
                changed.notify_all()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        with changed:
            changed.wait_for(lambda: written[0] >= 3, timeout=60)
        before = written[0]
        steps = StepsAfterWrites(lambda: written[0], changed, pages_per_step=8)
        result = create_backup(
            cafe.settings, tmp_path / "live.tar.gz", now=NOW, progress=steps, pages_per_step=8
        )
        after = written[0]
    finally:
        stop.set()
        thread.join()

    assert steps.steps >= 5 and after - before >= steps.steps  # writes went on between steps
    code, out, err = konsort(capsys, "--data-dir", str(tmp_path / "copy"), "restore",
                             str(result.path))  # fmt: skip
    assert code == 0 and out.endswith("ledger OK\n"), out + err
    copy = Database(node_settings(tmp_path / "copy").resolved_database_url)
    try:
        copied = -verify_ledger(copy).totals["program:issued"]
    finally:
        copy.dispose()
    live = -verify_ledger(cafe.db).totals["program:issued"]
    # 125 points from the first purchase, then one point per 100-øre purchase:
    # the copy is the database at one moment between the first and last write.
    assert 125 + before <= copied < 125 + written[0] == live


def test_restore_brings_back_the_ledger_and_the_personal_data(
    cafe: Cafe, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = back_up(capsys, cafe, tmp_path)
    target = tmp_path / "restored"

    code, out, err = konsort(capsys, "restore", str(archive), "--data-dir", str(target))

    assert code == 0, err
    assert out.startswith(
        f"restored 4 files of node cafe (backup of {NOW.isoformat()}, schema {head_revision()}) "
        f"into {target}\n"
    )
    assert out.endswith("ledger OK\n")
    for path in target.rglob("*"):
        assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600), path
    for name in ("konsort.toml", "keys/master.key"):
        assert (target / name).read_bytes() == (cafe.directory / name).read_bytes()
    settings = node_settings(target)
    restored = Database(settings.resolved_database_url)
    try:
        check_schema(restored.engine)
        secrets = NodeSecrets.load(settings.keys_dir)
        assert find_by_email(restored, secrets=secrets, email=EMAIL) == cafe.customer
        balance = customer_balance(restored, customer_id=cafe.customer, now=NOW)
        assert balance == customer_balance(cafe.db, customer_id=cafe.customer, now=NOW)
        assert verify_ledger(restored).totals == verify_ledger(cafe.db).totals
    finally:
        restored.dispose()


def test_restore_refuses_a_data_directory_in_use_unless_forced(
    cafe: Cafe, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = back_up(capsys, cafe, tmp_path)
    other = tmp_path / "other"
    assert konsort(capsys, "--data-dir", str(other), "init", "--node-id", "cafe")[0] == 0
    old_key = (other / "keys" / "master.key").read_bytes()
    (other / "konsort.db-wal").write_bytes(b"a stale write-ahead log")

    code, _, err = konsort(capsys, "--data-dir", str(other), "restore", str(archive))
    assert code == 2 and f"{other} is not empty" in err and "--force" in err
    assert (other / "keys" / "master.key").read_bytes() == old_key

    code, out, err = konsort(capsys, "--data-dir", str(other), "restore", str(archive), "--force")
    assert code == 0, err
    aside = other / "before-restore-20260302T093000Z"
    assert f"what the directory held before is in {aside}\n" in out
    assert (aside / "keys" / "master.key").read_bytes() == old_key  # set aside, not lost
    assert (aside / "konsort.db-wal").exists() and not (other / "konsort.db-wal").exists()
    assert (other / "keys" / "master.key").read_bytes() == (
        cafe.directory / "keys" / "master.key"
    ).read_bytes()
    assert out.endswith("ledger OK\n")


def rewritten(archive: Path, target: Path, change: Callable[[str, bytes], tuple[str, bytes]],
              extra: tuple[str, bytes] | None = None) -> Path:  # fmt: skip
    """A copy of the archive with each member passed through ``change`` (manifest kept)."""
    with tarfile.open(archive, "r:gz") as source, tarfile.open(target, "w:gz") as out:
        for member in source:
            data = source.extractfile(member).read()  # type: ignore[union-attr]
            name, data = change(member.name, data)
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o600
            out.addfile(info, io.BytesIO(data))
        if extra is not None:
            info = tarfile.TarInfo(extra[0])
            info.size = len(extra[1])
            out.addfile(info, io.BytesIO(extra[1]))
    return target


def flip_key(name: str, data: bytes) -> tuple[str, bytes]:
    return name, (data[:-2] + b"A\n" if name == "keys/master.key" else data)


def keep(name: str, data: bytes) -> tuple[str, bytes]:
    return name, data


@pytest.mark.parametrize(
    ("change", "extra", "refusal"),
    [
        (flip_key, None, "the backup is damaged: keys/master.key does not match the sha256"),
        (keep, ("keys/signing/intruder.pem", b"x"), "'keys/signing/intruder.pem', which its "
         "manifest does not list"),
        (keep, ("../outside", b"x"), "'../outside', which its manifest does not list"),
        (lambda n, d: (n, d) if n != "konsort.toml" else ("keys/../konsort.toml", d), None,
         "which its manifest does not list"),
    ],
    ids=["changed-key", "unlisted-file", "path-outside", "dotdot"],
)  # fmt: skip
def test_restore_refuses_a_damaged_archive_and_writes_nothing(
    cafe: Cafe, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    change: Callable[[str, bytes], tuple[str, bytes]], extra: tuple[str, bytes] | None,
    refusal: str,
) -> None:  # fmt: skip
    archive = rewritten(back_up(capsys, cafe, tmp_path), tmp_path / "bad.tar.gz", change, extra)
    target = tmp_path / "restored"

    code, _, err = konsort(capsys, "--data-dir", str(target), "restore", str(archive))

    assert code == 2 and refusal in err, err
    assert list(target.iterdir()) == []
    assert not (tmp_path / "outside").exists()


def test_restore_refuses_what_is_not_a_backup(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not gzip at all")

    code, _, err = konsort(capsys, "--data-dir", str(tmp_path / "r"), "restore", str(junk))

    assert code == 2 and "is not a readable backup archive" in err
    assert not (tmp_path / "r").exists()


def test_an_older_backup_is_restored_and_then_upgraded(
    cafe: Cafe, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cafe.db.dispose()
    downgrade_one(cafe.settings.resolved_database_url)
    archive = tmp_path / "old.tar.gz"
    assert konsort(capsys, "--data-dir", str(cafe.directory), "backup", "--output",
                   str(archive))[0] == 0  # fmt: skip
    target = tmp_path / "restored"

    code, _, err = konsort(capsys, "--data-dir", str(target), "restore", str(archive))

    assert code == 2
    assert err == (
        f"konsort: files restored, but the database is not ready: the database is at "
        f"{previous_revision()}, behind {head_revision()}; run `konsort db upgrade`; then run "
        f"`konsort ledger verify`\n"
    )
    assert konsort(capsys, "--data-dir", str(target), "db", "upgrade")[0] == 0
    code, out, _ = konsort(capsys, "--data-dir", str(target), "ledger", "verify")
    assert code == 0 and out.endswith("ledger OK\n")
