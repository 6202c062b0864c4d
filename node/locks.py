"""Job locks: one process at a time runs a scheduled job (docs/operations.md, "Scaling out").

A node may run as several processes on one PostgreSQL database (uvicorn
workers, or hosts behind a load balancer). Every process starts the same
jobs (node.jobs); before a run each asks :func:`job_lock` for the job's lock
and skips the round when another process holds it.

On PostgreSQL the lock is a session advisory lock
(``pg_try_advisory_lock``) held on a connection of its own, in autocommit
(no transaction stays open while the job runs its own transactions), for the
run's duration. The lock lives in the server: a process that dies loses its
connection and with it the lock, so a crashed run never blocks the others.
Advisory locks belong to one database, so two nodes on one server never
share a lock. Session locks need a session: behind PgBouncer in transaction
pooling mode set ``job_lock_database_url`` to a direct connection (or a
session-pooled one); the job's own work may still go through the pooler.

SQLite serves from one process (``workers`` > 1 needs PostgreSQL), so a
process-local lock is enough there.

The lock removes duplicate work and duplicate log lines; it is not what
keeps data right. Every unit of work a job does is once-only in the database
(a lot expires once, a statement has a unique row), so a run that overlaps
another, or repeats one, changes nothing twice.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import anyio.to_thread
from sqlalchemy import Connection, Engine, text

from node.db import Database, make_engine

_local_locks: dict[tuple[str, str], threading.Lock] = {}
_local_guard = threading.Lock()


def advisory_key(name: str) -> int:
    """The job's advisory lock key: a stable signed 64-bit number from its name."""
    digest = hashlib.blake2b(f"konsort-job:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class JobLocks:
    """Where a node's job locks live: its database, or a direct connection beside a pooler."""

    def __init__(self, db: Database, *, lock_database_url: str | None = None) -> None:
        self.db = db
        self._own_engine: Engine | None = None
        if not db.is_sqlite and lock_database_url:
            self._own_engine = make_engine(lock_database_url, pooled=False)

    @property
    def engine(self) -> Engine:
        return self._own_engine or self.db.engine

    def dispose(self) -> None:
        if self._own_engine is not None:
            self._own_engine.dispose()

    @contextmanager
    def hold(self, name: str) -> Iterator[bool]:
        """Try the lock of job ``name``; yield whether this process holds it (never waits)."""
        if self.db.is_sqlite:
            with _local_lock(self.db.url, name) as held:
                yield held
            return
        conn = _try_advisory(self.engine, name)
        try:
            yield conn is not None
        finally:
            if conn is not None:
                _release_advisory(conn, name)

    @asynccontextmanager
    async def hold_async(self, name: str) -> AsyncIterator[bool]:
        """:meth:`hold` for the event loop: the database round trips run in a thread."""
        if self.db.is_sqlite:
            with _local_lock(self.db.url, name) as held:
                yield held
            return
        conn = await anyio.to_thread.run_sync(_try_advisory, self.engine, name)
        try:
            yield conn is not None
        finally:
            if conn is not None:
                await anyio.to_thread.run_sync(_release_advisory, conn, name)


@contextmanager
def job_lock(db: Database, name: str) -> Iterator[bool]:
    """Try the lock of job ``name`` on ``db``; yield True when held, False when taken."""
    with JobLocks(db).hold(name) as held:
        yield held


@contextmanager
def _local_lock(url: str, name: str) -> Iterator[bool]:
    with _local_guard:
        lock = _local_locks.setdefault((url, name), threading.Lock())
    held = lock.acquire(blocking=False)
    try:
        yield held
    finally:
        if held:
            lock.release()


def _try_advisory(engine: Engine, name: str) -> Connection | None:
    conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        held = conn.execute(
            text("SELECT pg_try_advisory_lock(:key)"), {"key": advisory_key(name)}
        ).scalar_one()
    except BaseException:
        conn.close()
        raise
    if not held:
        conn.close()
        return None
    return conn


def _release_advisory(conn: Connection, name: str) -> None:
    try:
        conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": advisory_key(name)})
    except BaseException:
        # Never pool a session that may still hold the lock: dropping the
        # connection ends the session, and the server releases its locks.
        conn.invalidate()
        raise
    finally:
        conn.close()
