"""`konsort backup`: one archive with a consistent copy of the database and the node's keys.

The archive is a gzip-compressed tar file, private (mode 0600) from the moment
it exists. Its members, every one mode 0600:

=====================  =========================================================
``manifest.json``      first: format, node id, backend, schema revision, time,
                       and the sha256 and size of every other member
``konsort.db``         SQLite only: a consistent copy of the database
``konsort.toml``       the data directory's settings file, when there is one
``keys/...``           every file under ``<data_dir>/keys``: the master key, the
                       signing keys, the pinned steward key
=====================  =========================================================

The SQLite copy is made with SQLite's online backup API, a few pages per
step (the progress bar counts pages), inside **one read transaction** on the
source. In WAL mode that transaction is a snapshot of one moment: writers in
the serving node carry on, and the copy is the database as it was when the
backup began. (Without it SQLite restarts the copy each time another
connection commits, which on a busy node never ends.)

On PostgreSQL the archive holds the keys and settings only; the database is
dumped with ``pg_dump -Fc`` (:func:`pg_dump_command` spells out the command).
node.restore puts an archive back.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shlex
import sqlite3
import tarfile
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from node.errors import ConfigurationError
from node.progress import Progress, progress_bar
from node.secrets import MASTER_KEY_FILE, write_secret_file
from node.settings import CONFIG_NAME, Settings

BACKUP_FORMAT = "konsort-backup/1"
MANIFEST_NAME = "manifest.json"
DATABASE_NAME = "konsort.db"
KEYS_DIR = "keys"
#: Pages copied per step of the online backup: 4 MiB at SQLite's default page size.
PAGES_PER_STEP = 1024
CHUNK_BYTES = 1 << 20

#: ``progress(total, description, unit)``: a context manager that counts work done.
ProgressFactory = Callable[[int | None, str, str], AbstractContextManager[Progress]]


def no_progress(total: int | None, desc: str, unit: str) -> AbstractContextManager[Progress]:
    return progress_bar(total, desc, unit=unit, quiet=True)


@dataclass(frozen=True)
class BackupFile:
    name: str
    sha256: str
    size: int


@dataclass(frozen=True)
class BackupManifest:
    node_id: str
    created_at: str
    backend: str  # "sqlite" or "postgresql"
    schema_revision: str | None
    files: tuple[BackupFile, ...]

    def to_json(self) -> bytes:
        body = {"format": BACKUP_FORMAT, **asdict(self)}
        return (json.dumps(body, indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def from_json(cls, raw: bytes) -> BackupManifest:
        try:
            body = json.loads(raw)
            if body.get("format") != BACKUP_FORMAT:
                raise ConfigurationError(
                    f"unknown backup format {body.get('format')!r}; this Konsort reads "
                    f"{BACKUP_FORMAT}"
                )
            files = tuple(
                BackupFile(str(f["name"]), str(f["sha256"]), int(f["size"])) for f in body["files"]
            )
            revision = body["schema_revision"]
            return cls(
                node_id=str(body["node_id"]),
                created_at=str(body["created_at"]),
                backend=str(body["backend"]),
                schema_revision=None if revision is None else str(revision),
                files=files,
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ConfigurationError("the backup's manifest.json is not readable") from None


@dataclass(frozen=True)
class BackupResult:
    path: Path
    manifest: BackupManifest


def archive_name(node_id: str, now: datetime, suffix: str = ".tar.gz") -> str:
    return f"konsort-{node_id}-{now.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}{suffix}"


def create_backup(
    settings: Settings,
    output: Path,
    *,
    now: datetime,
    progress: ProgressFactory = no_progress,
    pages_per_step: int = PAGES_PER_STEP,
) -> BackupResult:
    """Write the node's backup archive to ``output`` (a new file, mode 0600)."""
    output = output.absolute()
    if output.exists() or output.is_symlink():
        raise _exists(output)
    if not output.parent.is_dir():
        raise ConfigurationError(f"no directory {output.parent} to write the backup into")
    if not (settings.keys_dir / MASTER_KEY_FILE).is_file():
        raise ConfigurationError(
            f"no master key in {settings.keys_dir}; a backup without it cannot restore "
            "personal data"
        )
    # A private staging area beside the archive: the copies never sit anywhere readable.
    with tempfile.TemporaryDirectory(prefix=".konsort-backup-", dir=output.parent) as scratch:
        staged = Path(scratch)
        names: list[str] = []
        if settings.is_sqlite:
            database = Path(make_url(settings.resolved_database_url).database or "")
            if not database.is_file():
                raise ConfigurationError(
                    f"no database in {settings.data_dir}; run `konsort init` there first"
                )
            sqlite_online_copy(
                database, staged / DATABASE_NAME, progress=progress, pages_per_step=pages_per_step
            )
            names.append(DATABASE_NAME)
            revision = sqlite_revision(staged / DATABASE_NAME)
        else:
            revision = postgres_revision(settings.resolved_database_url)
        for name, source in key_material(settings):
            write_secret_file(staged / name, source.read_bytes())
            names.append(name)
        manifest = BackupManifest(
            node_id=settings.node_id,
            created_at=now.astimezone(UTC).isoformat(),
            backend="sqlite" if settings.is_sqlite else "postgresql",
            schema_revision=revision,
            files=tuple(describe(name, staged / name) for name in names),
        )
        _write_archive(output, manifest, staged, now=now, progress=progress)
    return BackupResult(output, manifest)


def key_material(settings: Settings) -> list[tuple[str, Path]]:
    """The settings file and every file under ``keys/``, by their names in the archive."""
    found: list[tuple[str, Path]] = []
    config = settings.data_dir / CONFIG_NAME
    if config.is_file():
        found.append((CONFIG_NAME, config))
    for path in sorted(settings.keys_dir.rglob("*")):
        if path.is_file():
            found.append((f"{KEYS_DIR}/{path.relative_to(settings.keys_dir).as_posix()}", path))
    return found


def sqlite_online_copy(
    source: Path, target: Path, *, progress: ProgressFactory, pages_per_step: int
) -> None:
    """Copy ``source`` to ``target`` as of one moment, while others may write to it."""
    reader = sqlite3.connect(str(source), isolation_level=None, timeout=30)
    copy = sqlite3.connect(str(target), isolation_level=None)
    try:
        os.chmod(target, 0o600)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the snapshot starts
        total = int(reader.execute("PRAGMA page_count").fetchone()[0])
        with progress(total, "backup", "pages") as bar:
            done = 0

            def step(status: int, remaining: int, pages: int) -> None:
                nonlocal done
                bar.advance(pages - remaining - done)
                done = pages - remaining

            reader.backup(copy, pages=pages_per_step, progress=step)
        reader.execute("COMMIT")
    except sqlite3.Error as exc:
        raise ConfigurationError(f"cannot copy the database {source.name}: {exc}") from None
    finally:
        reader.close()
        copy.close()


def sqlite_revision(path: Path) -> str | None:
    connection = sqlite3.connect(str(path))
    try:
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError:  # no alembic_version table: no schema
        return None
    finally:
        connection.close()
    return None if row is None else str(row[0])


def postgres_revision(url: str) -> str | None:
    from node.db import make_engine
    from node.migrate import current_revision

    engine = make_engine(url, pooled=False)
    try:
        return current_revision(engine)
    except OperationalError as exc:
        raise ConfigurationError(f"cannot reach the database: {exc.orig}") from None
    finally:
        engine.dispose()


def pg_dump_command(url: str, dump: Path) -> str:
    """The pg_dump line for the node's database (never with its password)."""
    parsed = make_url(url)
    parts = ["pg_dump", "-Fc"]
    if parsed.host:
        parts += ["-h", parsed.host]
    if parsed.port:
        parts += ["-p", str(parsed.port)]
    if parsed.username:
        parts += ["-U", parsed.username]
    parts += ["-d", parsed.database or "", "-f", str(dump)]
    return shlex.join(parts)


def describe(name: str, path: Path) -> BackupFile:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
    return BackupFile(name, digest.hexdigest(), path.stat().st_size)


def _exists(path: Path) -> ConfigurationError:
    return ConfigurationError(f"{path} exists already; a backup never overwrites a file")


def open_private(path: Path) -> int:
    """A new file only its owner can read, or ConfigurationError; never an existing one."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        raise _exists(path) from None
    mode = os.fstat(fd).st_mode & 0o777
    if mode & 0o077:  # a file system that ignores modes (FAT, some network mounts)
        os.close(fd)
        path.unlink()
        raise ConfigurationError(
            f"{path.parent} does not keep files private (a new file got mode {mode:o}); "
            "write backups to a file system that keeps modes"
        )
    return fd


class _Counted:
    """A file read through tarfile, reporting bytes to a progress bar."""

    def __init__(self, handle: IO[bytes], bar: Progress) -> None:
        self._handle, self._bar = handle, bar

    def read(self, size: int = -1) -> bytes:
        data = self._handle.read(size)
        self._bar.advance(len(data))
        return data


def _member(name: str, size: int, now: datetime) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, 0o600, int(now.timestamp())
    info.uname = info.gname = ""
    return info


def _write_archive(
    output: Path,
    manifest: BackupManifest,
    staged: Path,
    *,
    now: datetime,
    progress: ProgressFactory,
) -> None:
    partial = output.with_name(f".{output.name}.partial")
    fd = open_private(partial)
    try:
        with os.fdopen(fd, "wb") as raw:
            with tarfile.open(fileobj=raw, mode="w:gz") as tar:
                head = manifest.to_json()
                tar.addfile(_member(MANIFEST_NAME, len(head), now), io.BytesIO(head))
                total = sum(f.size for f in manifest.files)
                with progress(total, "archive", "B") as bar:
                    for item in manifest.files:
                        with open(staged / item.name, "rb") as handle:
                            tar.addfile(_member(item.name, item.size, now), _Counted(handle, bar))
            raw.flush()
            os.fsync(raw.fileno())
        try:
            os.link(partial, output)  # never replaces a file that appeared meanwhile
        except FileExistsError:
            raise _exists(output) from None
        except OSError:  # a file system without hard links
            os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)
