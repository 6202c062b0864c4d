"""Database engines and transactions: the one place that knows SQLite from PostgreSQL.

The caller owns the transaction. Services hand a unit of work
``(session) -> result`` to ``db.write()`` / ``await db.write_async()`` (tools
and tests may use ``db.transaction()``); store helpers take a keyword-only
``session`` and never commit. On SQLite every unit goes through the
group-commit writer (node.writer); on PostgreSQL each unit is a transaction
of its own, and read transactions run at REPEATABLE READ so one read sees one
snapshot.

SQLite runs in WAL mode with ``synchronous=FULL`` (a committed write survives
power loss). Write transactions start with ``BEGIN IMMEDIATE`` so a writer
takes the database lock before it reads what it will change; writers in one
process also queue on a lock of their own, because SQLite's busy handler backs
off in sleeps of up to 100 ms, which would wreck latency under load. Readers
never block in WAL mode and use a separate engine that begins deferred.

On PostgreSQL the default READ COMMITTED isolation is enough: every balance
change is a conditional ``UPDATE ... WHERE balance >= n`` that locks the
account row, so two racing redemptions serialise on it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from typing import Any, TypeVar

import anyio.to_thread
from sqlalchemy import DateTime, Engine, create_engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session

from node.writer import BUSY_TIMEOUT_MS, GroupCommitWriter

log = logging.getLogger("konsort.db")

T = TypeVar("T")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _sqlite_engine(url: str, *, begin: str) -> Engine:
    engine = create_engine(
        url, connect_args={"check_same_thread": False, "timeout": 30}, hide_parameters=True
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event, not pysqlite, decide how transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        # A log restarted after a burst (node.writer) is cut back to 64 MiB.
        cursor.execute("PRAGMA journal_size_limit=67108864")
        # Deleted rows are overwritten with zeros, not left in free pages: an
        # erased customer's sealed profile and wrapped key do not linger in
        # the database file (docs/privacy.md, "Erasure").
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)

    return engine


def make_engine(url: str, *, for_writes: bool = True, pooled: bool = True) -> Engine:
    if url.startswith("sqlite"):
        return _sqlite_engine(url, begin="BEGIN IMMEDIATE" if for_writes else "BEGIN")
    options: dict[str, Any] = {"pool_pre_ping": True, "hide_parameters": True}
    if pooled:
        options.update(pool_size=20, max_overflow=20)
    else:
        options["poolclass"] = NullPool
    return create_engine(url, **options)


class Database:
    """Engines plus the transaction context managers services use."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.engine = make_engine(url, for_writes=True)
        # Reads see one consistent snapshot: a deferred SQLite transaction is one
        # from its first read; PostgreSQL needs REPEATABLE READ for that.
        self.read_engine = (
            make_engine(url, for_writes=False)
            if self.is_sqlite
            else self.engine.execution_options(isolation_level="REPEATABLE READ")
        )
        self._write_lock = threading.Lock() if self.is_sqlite else None
        self._writer = (
            GroupCommitWriter(self.engine, self._write_lock) if self._write_lock else None
        )

    def write(self, work: Callable[[Session], T]) -> T:
        """Run ``work(session)`` in a write transaction; return its result once committed.

        On SQLite the unit joins the group-commit writer (see node.writer); on
        PostgreSQL it runs in its own transaction on the calling thread.
        Either way it is atomic: if ``work`` raises, none of its writes stay.
        """
        if self._writer is not None:
            return self._writer.run(work)
        with self.transaction() as session:
            return work(session)

    async def write_async(self, work: Callable[[Session], T]) -> T:
        """:meth:`write` for the event loop: SQLite units are awaited, not waited on."""
        if self._writer is not None:
            return await self._writer.submit_async(work)
        return await anyio.to_thread.run_sync(self.write, work)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A write transaction: committed on success, rolled back on any exception.

        Prefer :meth:`write` on request paths; this form suits tools and tests.
        """
        with self._write_lock or nullcontext():
            with Session(self.engine, expire_on_commit=False) as session:
                with session.begin():
                    yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only transaction over one snapshot; never takes the write lock."""
        with Session(self.read_engine, expire_on_commit=False) as session:
            with session.begin():
                yield session

    def scrub_wal(self) -> bool:
        """After an erasure on SQLite: copy the WAL into the database file and empty it.

        The write-ahead log keeps old page images (an erased profile among them)
        until they are overwritten; a TRUNCATE checkpoint moves the latest pages
        into the file (where ``secure_delete`` zeroed the deleted rows) and cuts
        the log to zero bytes. It waits for readers up to the busy timeout; the
        answer says whether it completed (a later erasure or the next automatic
        checkpoint finishes the job otherwise). PostgreSQL: nothing to do here,
        its VACUUM reclaims dead rows (docs/privacy.md).
        """
        if not self.is_sqlite:
            return True
        # On the driver connection: a checkpoint cannot run inside a transaction,
        # and SQLAlchemy would open one (BEGIN IMMEDIATE, see _sqlite_engine).
        with self._write_lock or nullcontext():
            connection = self.engine.raw_connection()
            try:
                cursor = connection.cursor()
                busy, _, _ = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                cursor.close()
            finally:
                connection.close()
        if busy:
            log.warning("WAL checkpoint after an erasure could not complete; readers were busy")
        return not busy

    def dispose(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()
