"""`konsort backup` and `konsort restore`: the node's archive (node.backup, node.restore).

``backup`` writes one private tar.gz: on SQLite a consistent copy of the
database taken while the node serves, and always the keys and settings. On
PostgreSQL it prints the ``pg_dump`` command for the database. ``restore`` puts
an archive into an empty data directory, then checks the schema and the
ledger as ``konsort ledger verify`` does.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from node.clock import Clock, SystemClock
from node.errors import ConfigurationError, KonsortError
from node.progress import Progress, progress_bar
from node.settings import Settings

#: The clock every command here reads (tests swap in a ManualClock).
CLOCK: Clock = SystemClock()


def _bars(args: argparse.Namespace) -> Callable[..., AbstractContextManager[Progress]]:
    def bars(total: int | None, desc: str, unit: str) -> AbstractContextManager[Progress]:
        return progress_bar(total, desc, unit=unit, quiet=args.quiet)

    return bars


def cmd_backup(args: argparse.Namespace, settings: Settings) -> int:
    """Write one private archive: the database (SQLite), the keys and the settings."""
    from node.backup import archive_name, create_backup, pg_dump_command

    now = CLOCK.now()
    output = Path(args.output) if args.output else Path(archive_name(settings.node_id, now))
    if output.is_dir():
        output = output / archive_name(settings.node_id, now)
    result = create_backup(settings, output, now=now, progress=_bars(args))
    manifest = result.manifest
    print(
        f"wrote {result.path} (mode 0600): node {manifest.node_id}, schema "
        f"{manifest.schema_revision or 'empty'}, {len(manifest.files)} files"
    )
    if not settings.is_sqlite:
        dump = result.path.with_name(archive_name(settings.node_id, now, ".dump"))
        print("the PostgreSQL database is not in the archive; dump it with:")
        print(pg_dump_command(settings.resolved_database_url, dump))
    print("the archive holds the master key: keep it as safe as the key itself", file=sys.stderr)
    return 0


def cmd_restore(args: argparse.Namespace, settings: Settings) -> int:
    """Restore a backup archive into an empty data directory, then verify the ledger."""
    from node.cli import _settings, cmd_ledger_verify
    from node.restore import restore_backup

    restored = restore_backup(
        Path(args.archive), settings.data_dir, force=args.force, now=CLOCK.now(),
        progress=_bars(args),
    )  # fmt: skip
    manifest = restored.manifest
    print(
        f"restored {len(manifest.files)} files of node {manifest.node_id} (backup of "
        f"{manifest.created_at}, schema {manifest.schema_revision or 'empty'}) "
        f"into {settings.data_dir}"
    )
    if restored.set_aside is not None:
        print(f"what the directory held before is in {restored.set_aside}")
    postgresql = manifest.backend == "postgresql"
    if postgresql:
        print("the archive holds keys and settings only; the database comes from pg_restore")
    try:
        # The settings file came with the archive: read the settings again.
        return cmd_ledger_verify(argparse.Namespace(json=False), _settings(args))
    except KonsortError as exc:
        if postgresql:
            raise ConfigurationError(
                f"keys and settings restored, but the database is not ready ({exc.message}); "
                "restore it with pg_restore first (docs/operations.md, Backups), then run "
                "`konsort ledger verify`"
            ) from None
        raise ConfigurationError(
            f"files restored, but the database is not ready: {exc.message}; "
            "then run `konsort ledger verify`"
        ) from None


def add_backup_commands(commands: Any, add: Callable[..., argparse.ArgumentParser]) -> None:
    backup = add(commands, "backup", cmd_backup)
    backup.add_argument(
        "--output",
        help="archive file or directory (default ./konsort-<node>-<time>.tar.gz)",
    )
    backup.add_argument("--quiet", action="store_true", help="no progress bar")
    restore = add(commands, "restore", cmd_restore)
    restore.add_argument("archive", help="a .tar.gz written by `konsort backup`")
    restore.add_argument(
        "--data-dir", default=argparse.SUPPRESS, help="the data directory to restore into"
    )
    restore.add_argument(
        "--force",
        action="store_true",
        help="restore into a non-empty data directory, moving what it holds aside",
    )
    restore.add_argument("--quiet", action="store_true", help="no progress bar")
