"""SQL for program versions. Versions are append-only (a trigger refuses changes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from node.store.sql import raw


@dataclass(frozen=True)
class VersionRow:
    version: int
    config: str
    actor: str
    comment: str | None
    created_at: datetime


def version_in_force(*, session: Session, moment: datetime) -> int | None:
    """The newest version created at or before ``moment``."""
    sql = raw(session)
    row = sql.one(
        "SELECT version FROM program_version WHERE created_at <= ? ORDER BY version DESC LIMIT 1",
        (sql.time(moment),),
    )
    return int(row[0]) if row else None


def latest_version(*, session: Session) -> int | None:
    row = raw(session).one("SELECT max(version) FROM program_version")
    return int(row[0]) if row and row[0] is not None else None


def version_config(*, session: Session, version: int) -> str | None:
    row = raw(session).one("SELECT config FROM program_version WHERE version = ?", (version,))
    return str(row[0]) if row else None


def insert_version(
    *,
    session: Session,
    version: int,
    config: str,
    actor: str,
    comment: str | None,
    now: datetime,
) -> None:
    sql = raw(session)
    sql.execute(
        "INSERT INTO program_version (version, config, actor, comment, created_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (version, config, actor, comment, sql.time(now)),
    )


def versions(*, session: Session, before: int | None, limit: int) -> list[VersionRow]:
    """Versions newest first (``before`` pages back)."""
    sql = raw(session)
    rows = sql.all(
        "SELECT version, config, actor, comment, created_at FROM program_version"
        " WHERE version < ? ORDER BY version DESC LIMIT ?",
        (before if before is not None else 2**31, limit),
    )
    return [VersionRow(int(r[0]), str(r[1]), str(r[2]), r[3], sql.parse_time(r[4])) for r in rows]


def version_row(*, session: Session, version: int) -> VersionRow | None:
    sql = raw(session)
    row = sql.one(
        "SELECT version, config, actor, comment, created_at FROM program_version WHERE version = ?",
        (version,),
    )
    if row is None:
        return None
    return VersionRow(int(row[0]), str(row[1]), str(row[2]), row[3], sql.parse_time(row[4]))
