"""Group commit for SQLite: many write transactions, one fsync.

SQLite has one writer at a time and every commit in ``synchronous=FULL``
mode waits for an fsync. Committing each request on its own therefore caps a
node at the disk's fsync rate, however fast the code is. The writer below
runs every write unit of work on one thread: it takes whatever units are
waiting (up to ``max_batch``), opens one transaction, runs each unit inside
its own SAVEPOINT (a unit that raises is rolled back alone and gets its
exception), commits once, and only then hands each caller its result. So a
caller never sees success before its changes are durable, a failing unit
never takes its neighbours down, and under load one fsync serves a whole
batch. With a single waiting unit it is an ordinary transaction.

Units are plain functions ``(session) -> result`` (Synapse's
``runInteraction`` habit); they must only use the session they are given.
PostgreSQL does not need this: row locks let its transactions run side by
side, so there each unit gets its own transaction on the calling thread.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine
from sqlmodel import Session

T = TypeVar("T")


class _Unit:
    """A unit of work and whoever waits for it: a thread (``future``) or an event
    loop (``loop`` and ``waiter``)."""

    __slots__ = ("future", "loop", "waiter", "work")

    def __init__(
        self,
        work: Callable[[Session], Any],
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.work = work
        self.loop = loop
        self.waiter: asyncio.Future[Any] | None = loop.create_future() if loop else None
        self.future: Future[Any] | None = None if loop else Future()


def _settle(outcomes: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    """Hand a batch's results to their waiters (runs in the event loop)."""
    for waiter, ok, value in outcomes:
        if waiter.cancelled():
            continue
        if ok:
            waiter.set_result(value)
        else:
            waiter.set_exception(value)


#: WAL frames (pages) after which the writer restarts the log: 16 MiB of 4 KiB pages.
RESTART_FRAMES = 4096
#: How long a restart waits for readers still on an older snapshot (ms).
RESTART_WAIT_MS = 100
#: The connection's busy timeout, restored after a restart (node.db sets it).
BUSY_TIMEOUT_MS = 30_000


#: Queued by the checkpoint thread to wake the writer for a restart (not a unit).
_RESTART: Any = object()


class GroupCommitWriter:
    def __init__(
        self,
        engine: Engine,
        lock: threading.Lock,
        *,
        max_batch: int = 128,
        restart_frames: int = RESTART_FRAMES,
    ) -> None:
        self._engine = engine
        self._lock = lock
        self._max_batch = max_batch
        self._restart_frames = restart_frames
        self._restart_due = threading.Event()
        self._queue: queue.SimpleQueue[_Unit | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closed = False
        self._stopped = threading.Event()
        self._checkpointer: threading.Thread | None = None

    def submit(self, work: Callable[[Session], T]) -> Future[T]:
        """Queue ``work``; the future resolves once its transaction is committed."""
        unit = self._enqueue(_Unit(work))
        assert unit.future is not None
        return unit.future

    def submit_async(self, work: Callable[[Session], T]) -> asyncio.Future[T]:
        """:meth:`submit` for the running event loop; one wake-up per batch, not per unit."""
        unit = self._enqueue(_Unit(work, asyncio.get_running_loop()))
        assert unit.waiter is not None
        return unit.waiter

    def _enqueue(self, unit: _Unit) -> _Unit:
        if threading.current_thread() is self._thread:
            raise RuntimeError("a write unit may not start another write unit")
        if self._closed:
            raise RuntimeError("the database has been closed")
        self._ensure_started()
        self._queue.put(unit)
        return unit

    def run(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in a committed transaction and return its result (or raise)."""
        return self.submit(work).result()

    def close(self) -> None:
        with self._start_lock:
            self._closed = True
            thread = self._thread
        self._stopped.set()
        if thread is not None:
            self._queue.put(None)
            thread.join()
        if self._checkpointer is not None:
            self._checkpointer.join()

    def _ensure_started(self) -> None:
        if self._thread is not None:
            return
        with self._start_lock:
            if self._closed:
                raise RuntimeError("the database has been closed")
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="konsort-sqlite-writer", daemon=True
                )
                self._thread.start()
                self._checkpointer = threading.Thread(
                    target=self._checkpoint_loop, name="konsort-sqlite-checkpoint", daemon=True
                )
                self._checkpointer.start()

    def _checkpoint_loop(self) -> None:
        """Copy the WAL into the database file off the writer's path.

        The writer's connections turn SQLite's automatic checkpoint off (it
        would run inside a commit, stalling every unit of that batch); this
        thread runs a PASSIVE checkpoint, which never blocks the writer,
        every quarter second instead.

        A PASSIVE checkpoint never starts the log afresh, and under steady
        writes there is never a moment when it has copied every frame and no
        commit followed, which is when SQLite would: the WAL then grows
        without end (480 MiB next to an 89 MiB database in a two-minute
        bench), and every page read searches its index, one hash table per
        4,096 frames, so every statement slows as it grows. Once the log
        holds ``restart_frames`` frames, the writer restarts it between two
        batches (:meth:`_restart_wal`).
        """
        while not self._stopped.wait(0.25):
            try:
                connection = self._engine.raw_connection()
                try:
                    _, frames, _ = connection.driver_connection.execute(  # type: ignore[union-attr]
                        "PRAGMA wal_checkpoint(PASSIVE)"
                    ).fetchone()
                finally:
                    connection.close()
            except Exception:  # a busy or closing database: try again next time
                continue
            if frames >= self._restart_frames:
                self._restart_due.set()
                self._queue.put(_RESTART)  # wakes an idle writer

    def _restart_wal(self) -> None:
        """Copy what is left of the WAL and start it from its beginning (a RESTART
        checkpoint), waiting at most ``RESTART_WAIT_MS`` for readers still on an
        older snapshot; if they are not done by then, the next round tries again.
        Runs on the writer thread between batches, holding the write lock, so no
        write waits behind it for long and none runs during it."""
        self._restart_due.clear()
        try:
            with self._lock:
                connection = self._engine.raw_connection()
                try:
                    driver: Any = connection.driver_connection
                    driver.execute(f"PRAGMA busy_timeout={RESTART_WAIT_MS}")
                    try:
                        driver.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
                    finally:
                        driver.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
                finally:
                    connection.close()
        except Exception:  # a busy or closing database: the next round tries again
            return

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [] if first is _RESTART else [first]
            stop = False
            while len(batch) < self._max_batch:
                try:
                    unit = self._queue.get_nowait()
                except queue.Empty:
                    break
                if unit is None:
                    stop = True
                    break
                if unit is not _RESTART:
                    batch.append(unit)
            if batch:
                self._commit(batch)
            if self._restart_due.is_set():
                self._restart_wal()
            if stop:
                return

    @staticmethod
    def _run_in_savepoint(
        unit: _Unit, session: Session, connection: Connection
    ) -> tuple[bool, Any]:
        # Plain SAVEPOINT statements on the driver: begin_nested() costs ~45 µs.
        driver = connection.connection.driver_connection
        assert driver is not None
        driver.execute("SAVEPOINT konsort_unit")
        try:
            result = unit.work(session)
        except Exception as exc:
            driver.execute("ROLLBACK TO SAVEPOINT konsort_unit")
            driver.execute("RELEASE SAVEPOINT konsort_unit")
            return False, exc
        driver.execute("RELEASE SAVEPOINT konsort_unit")
        return True, result

    @staticmethod
    def _prepare(session: Session) -> None:
        connection = session.connection()
        if not connection.info.get("konsort_autocheckpoint_off"):
            connection.exec_driver_sql("PRAGMA wal_autocheckpoint=0")
            connection.info["konsort_autocheckpoint_off"] = True

    def _commit(self, batch: list[_Unit]) -> None:
        if len(batch) == 1:  # alone: the transaction itself is the savepoint
            unit = batch[0]
            try:
                with self._lock, Session(self._engine, expire_on_commit=False) as session:
                    with session.begin():
                        self._prepare(session)
                        result = unit.work(session)
            except Exception as exc:
                self._deliver([(unit, False, exc)])
            else:
                self._deliver([(unit, True, result)])
            return
        outcomes: list[tuple[bool, Any]] = []
        try:
            with self._lock, Session(self._engine, expire_on_commit=False) as session:
                with session.begin():
                    self._prepare(session)
                    connection = session.connection()
                    for unit in batch:
                        outcomes.append(self._run_in_savepoint(unit, session, connection))
        except Exception as exc:  # the commit itself failed: nothing of the batch is durable
            self._deliver([(unit, False, exc) for unit in batch])
            return
        self._deliver(
            [(unit, ok, value) for unit, (ok, value) in zip(batch, outcomes, strict=True)]
        )

    @staticmethod
    def _deliver(results: list[tuple[_Unit, bool, Any]]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]] = {}
        for unit, ok, value in results:
            if unit.future is not None:
                if ok:
                    unit.future.set_result(value)
                else:
                    unit.future.set_exception(value)
            elif unit.loop is not None and unit.waiter is not None:
                by_loop.setdefault(unit.loop, []).append((unit.waiter, ok, value))
        for loop, outcomes in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle, outcomes)
            except RuntimeError:  # that loop has closed; nobody is waiting any more
                pass
