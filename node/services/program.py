"""Program versions: the rules in force at any moment, and every change to them.

Each change stores the whole program as a new numbered version with who made
it, when and why; versions are never edited (a trigger refuses it). A purchase
is earned with the version in force when it happened, so a till that sends an
older purchase later still gets that day's rules, and a refund takes back
exactly what the purchase earned. Until the first version is stored, version
0 applies: the node's settings (points per currency unit, expiry days) and
nothing else.

Parsed programs are cached per database connection by version number, which
is safe because a version never changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from node.clock import isoformat
from node.db import Database
from node.errors import Conflict, NotFound
from node.program.config import EarnRules, Expiry, Program, program_from_json
from node.services.idempotency import Answer, Unit, idempotent_unit
from node.settings import Settings
from node.store import program as store
from node.store.sql import raw

DEFAULT_VERSION = 0


@dataclass(frozen=True)
class ProgramInForce:
    version: int
    program: Program


@dataclass(frozen=True)
class ProgramChange:
    version: int
    actor: str
    comment: str | None
    created_at: datetime
    #: Dotted paths that differ from the version before ("earn.points_per_unit").
    changed: list[str]
    program: Program


@lru_cache(maxsize=16)
def _defaults(points_per_unit: int, expiry_days: int) -> Program:
    return Program(
        earn=EarnRules(points_per_unit=points_per_unit),
        expiry=Expiry(days=expiry_days),
    )


def default_program(settings: Settings) -> Program:
    """Version 0: what the settings say, before any program is stored."""
    return _defaults(settings.points_per_currency_unit, settings.point_expiry_days)


def _load_txn(*, session: Session, settings: Settings, version: int | None) -> ProgramInForce:
    if version is None:
        return ProgramInForce(DEFAULT_VERSION, default_program(settings))
    cache: dict[int, Program] = raw(session).cache.setdefault("konsort_programs", {})
    program = cache.get(version)
    if program is None:
        stored = store.version_config(session=session, version=version)
        if stored is None:
            raise NotFound(f"no program version {version}", field="version")
        program = cache[version] = program_from_json(stored)
    return ProgramInForce(version, program)


def program_at_txn(*, session: Session, settings: Settings, moment: datetime) -> ProgramInForce:
    """The program in force at ``moment``."""
    version = store.version_in_force(session=session, moment=moment)
    return _load_txn(session=session, settings=settings, version=version)


def program_version_txn(*, session: Session, settings: Settings, version: int) -> ProgramInForce:
    if version == DEFAULT_VERSION:
        return ProgramInForce(DEFAULT_VERSION, default_program(settings))
    return _load_txn(session=session, settings=settings, version=version)


def current_program(db: Database, settings: Settings, *, now: datetime) -> ProgramInForce:
    with db.read() as session:
        return program_at_txn(session=session, settings=settings, moment=now)


def save_program_txn(
    *,
    session: Session,
    settings: Settings,
    program: Program,
    actor: str,
    comment: str | None,
    now: datetime,
) -> ProgramChange:
    """Store ``program`` as the next version, in force from ``now``."""
    latest = store.latest_version(session=session)
    previous = _load_txn(session=session, settings=settings, version=latest).program
    version = (latest or DEFAULT_VERSION) + 1
    store.insert_version(
        session=session,
        version=version,
        config=program.to_json(),
        actor=actor,
        comment=comment,
        now=now,
    )
    changed = changed_paths(previous, program)
    return ProgramChange(version, actor, comment, now, changed, program)


def update_program(
    db: Database,
    settings: Settings,
    *,
    program: Program,
    actor: str,
    comment: str | None,
    now: datetime,
) -> ProgramChange:
    """Store ``program`` as the next version (the CLI's and the tests' way in)."""
    try:
        return db.write(
            lambda session: save_program_txn(
                session=session,
                settings=settings,
                program=program,
                actor=actor,
                comment=comment,
                now=now,
            )
        )
    except IntegrityError:
        raise Conflict(
            "another change to the program was saved at the same moment; reload and retry"
        ) from None


def program_update_unit(
    settings: Settings,
    *,
    program: Program,
    actor: str,
    comment: str | None,
    idempotency_key: str,
    now: datetime,
) -> Unit:
    """The API's way in: one new version per Idempotency-Key."""

    def work(session: Session) -> Answer:
        change = save_program_txn(
            session=session,
            settings=settings,
            program=program,
            actor=actor,
            comment=comment,
            now=now,
        )
        return Answer(201, change_json(change))

    return idempotent_unit(
        key=idempotency_key,
        operation="program-update",
        request={"program": program.to_json(), "comment": comment},
        now=now,
        work=work,
    )


def change_json(change: ProgramChange, *, with_program: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "version": change.version,
        "actor": change.actor,
        "comment": change.comment,
        "created_at": isoformat(change.created_at),
        "changed": change.changed,
    }
    if with_program:
        body["program"] = change.program.model_dump(mode="json")
    return body


def program_history(
    db: Database, settings: Settings, *, before: int | None, limit: int
) -> list[ProgramChange]:
    """Versions newest first, each with what changed from the one before."""
    with db.read() as session:
        rows = store.versions(session=session, before=before, limit=limit)
        changes = []
        for row in rows:
            program = program_from_json(row.config)
            previous = program_version_txn(
                session=session, settings=settings, version=row.version - 1
            ).program
            changes.append(
                ProgramChange(
                    row.version,
                    row.actor,
                    row.comment,
                    row.created_at,
                    changed_paths(previous, program),
                    program,
                )
            )
        return changes


def program_version(db: Database, settings: Settings, *, version: int) -> ProgramInForce:
    with db.read() as session:
        return program_version_txn(session=session, settings=settings, version=version)


def changed_paths(old: Program, new: Program) -> list[str]:
    """Dotted paths whose values differ; lists of coded items compare by code."""
    return [path for path, _, _ in changed_values(old, new)]


def changed_values(old: Program, new: Program) -> list[tuple[str, Any, Any]]:
    """(dotted path, value before, value after) for every difference, as JSON values;
    lists of coded items compare by code ("rewards.coffee.stock"), and an item
    added or removed is one entry with None on the other side."""
    out: list[tuple[str, Any, Any]] = []
    _diff(old.model_dump(mode="json"), new.model_dump(mode="json"), "", out)
    return out


@dataclass(frozen=True)
class VersionDiff:
    change: ProgramChange
    #: (dotted path, value before, value after), as in changed_values().
    values: list[tuple[str, Any, Any]]


def version_diff(db: Database, settings: Settings, *, version: int) -> VersionDiff:
    """One stored version and what changed from the version before it."""
    with db.read() as session:
        if version == DEFAULT_VERSION:
            raise NotFound(f"no program version {version}", field="version")
        row = store.version_row(session=session, version=version)
        if row is None:
            raise NotFound(f"no program version {version}", field="version")
        program = program_from_json(row.config)
        previous = program_version_txn(
            session=session, settings=settings, version=version - 1
        ).program
    values = changed_values(previous, program)
    change = ProgramChange(
        row.version,
        row.actor,
        row.comment,
        row.created_at,
        [path for path, _, _ in values],
        program,
    )
    return VersionDiff(change, values)


def _keyed(items: list[Any]) -> dict[str, Any] | None:
    if all(isinstance(item, dict) and "code" in item for item in items):
        return {str(item["code"]): item for item in items}
    return None


def _diff(old: Any, new: Any, path: str, out: list[tuple[str, Any, Any]]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            _diff(old.get(key), new.get(key), f"{path}.{key}" if path else str(key), out)
        return
    if isinstance(old, list) and isinstance(new, list):
        old_keyed, new_keyed = _keyed(old), _keyed(new)
        if old_keyed is not None and new_keyed is not None:
            _diff(old_keyed, new_keyed, path, out)
            return
    if old != new:
        out.append((path, old, new))
