"""`konsort restore`: a backup archive (node.backup) back into a data directory.

The work is ordered so that a bad archive changes nothing:

1. read ``manifest.json`` (the archive's first member); refuse an unknown format;
2. refuse a data directory that is not empty, unless ``force``;
3. extract every member into a private staging directory inside the data
   directory, refusing links, devices, absolute or ``..`` paths and any file
   the manifest does not list, and compare each file's size and sha256 with
   the manifest; a missing file is refused too;
4. with ``force``, move what the data directory held into
   ``before-restore-<time>/`` (mode 0700): old keys are set aside, never deleted;
5. move the staged files into place (files 0600, directories 0700).

The CLI then checks the schema and verifies the ledger.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from node.backup import (
    CHUNK_BYTES,
    DATABASE_NAME,
    KEYS_DIR,
    MANIFEST_NAME,
    BackupFile,
    BackupManifest,
    ProgressFactory,
    no_progress,
)
from node.errors import ConfigurationError
from node.settings import CONFIG_NAME

SET_ASIDE_PREFIX = "before-restore-"
STAGING_PREFIX = ".restore-"


@dataclass(frozen=True)
class RestoredBackup:
    manifest: BackupManifest
    data_dir: Path
    set_aside: Path | None


def restore_backup(
    archive: Path,
    data_dir: Path,
    *,
    force: bool,
    now: datetime,
    progress: ProgressFactory = no_progress,
) -> RestoredBackup:
    """Put ``archive`` into ``data_dir``; see the module docstring for the order of work."""
    if not archive.is_file():
        raise ConfigurationError(f"no backup archive at {archive}")
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            manifest = _read_manifest(tar)
            _check_target(data_dir, force=force)
            data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=data_dir))
            try:
                _extract(tar, manifest, staging, progress=progress)
                set_aside = _set_aside(data_dir, staging, now=now) if force else None
                for entry in sorted(staging.iterdir()):
                    os.replace(entry, data_dir / entry.name)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        raise ConfigurationError(f"{archive} is not a readable backup archive: {exc}") from None
    return RestoredBackup(manifest, data_dir, set_aside)


def _read_manifest(tar: tarfile.TarFile) -> BackupManifest:
    first = tar.next()
    if first is None or first.name != MANIFEST_NAME or not first.isreg():
        raise ConfigurationError("not a Konsort backup: manifest.json is not its first member")
    handle = tar.extractfile(first)
    assert handle is not None  # a regular member always has a file object
    manifest = BackupManifest.from_json(handle.read())
    for item in manifest.files:
        _safe_name(item.name)
    return manifest


def _check_target(data_dir: Path, *, force: bool) -> None:
    if data_dir.exists() and not data_dir.is_dir():
        raise ConfigurationError(f"{data_dir} is not a directory")
    if not force and data_dir.is_dir() and any(data_dir.iterdir()):
        raise ConfigurationError(
            f"{data_dir} is not empty; restore into an empty data directory, or add --force "
            f"to move what it holds into {data_dir}/{SET_ASIDE_PREFIX}<time>/"
        )


def _safe_name(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    top = path.parts[0] if path.parts else ""
    if (
        path.is_absolute()
        or any(part in ("", ".", "..") for part in path.parts)
        or (name not in (DATABASE_NAME, CONFIG_NAME) and (top != KEYS_DIR or len(path.parts) < 2))
    ):
        raise ConfigurationError(f"the backup names a file Konsort does not restore: {name!r}")
    return path


def _extract(
    tar: tarfile.TarFile, manifest: BackupManifest, staging: Path, *, progress: ProgressFactory
) -> None:
    expected = {item.name: item for item in manifest.files}
    seen: set[str] = set()
    with progress(sum(f.size for f in manifest.files), "restore", "B") as bar:
        for member in tar:
            if member.name == MANIFEST_NAME:
                continue
            item = expected.get(member.name)
            if item is None or member.name in seen or not member.isreg():
                raise ConfigurationError(
                    f"the backup holds {member.name!r}, which its manifest does not list"
                )
            seen.add(member.name)
            target = staging / _safe_name(member.name)
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            source = tar.extractfile(member)
            assert source is not None
            digest, size = hashlib.sha256(), 0
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                while chunk := source.read(CHUNK_BYTES):
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
                    bar.advance(len(chunk))
                out.flush()
                os.fsync(out.fileno())
            _check_file(item, digest.hexdigest(), size)
    missing = sorted(set(expected) - seen)
    if missing:
        raise ConfigurationError(f"the backup is incomplete: {missing[0]} is missing")


def _check_file(item: BackupFile, sha256: str, size: int) -> None:
    if sha256 != item.sha256 or size != item.size:
        raise ConfigurationError(
            f"the backup is damaged: {item.name} does not match the sha256 in its manifest"
        )


def _set_aside(data_dir: Path, staging: Path, *, now: datetime) -> Path | None:
    entries = [
        entry
        for entry in sorted(data_dir.iterdir())
        if entry != staging and not entry.name.startswith(SET_ASIDE_PREFIX)
    ]
    if not entries:
        return None
    aside = data_dir / f"{SET_ASIDE_PREFIX}{now.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}"
    try:
        aside.mkdir(mode=0o700)
    except FileExistsError:
        raise ConfigurationError(f"{aside} exists already; try again in a second") from None
    for entry in entries:
        os.replace(entry, aside / entry.name)
    return aside
