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

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlmodel import Session

T = TypeVar("T")


class _Unit:
    __slots__ = ("future", "work")

    def __init__(self, work: Callable[[Session], Any]) -> None:
        self.work = work
        self.future: Future[Any] = Future()


class GroupCommitWriter:
    def __init__(self, engine: Engine, lock: threading.Lock, *, max_batch: int = 128) -> None:
        self._engine = engine
        self._lock = lock
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Unit | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closed = False

    def run(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in a committed transaction and return its result (or raise)."""
        if threading.current_thread() is self._thread:
            raise RuntimeError("a write unit may not start another write unit")
        self._ensure_started()
        unit = _Unit(work)
        self._queue.put(unit)
        result: T = unit.future.result()
        return result

    def close(self) -> None:
        with self._start_lock:
            self._closed = True
            thread = self._thread
        if thread is not None:
            self._queue.put(None)
            thread.join()

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

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < self._max_batch:
                try:
                    unit = self._queue.get_nowait()
                except queue.Empty:
                    break
                if unit is None:
                    stop = True
                    break
                batch.append(unit)
            self._commit(batch)
            if stop:
                return

    def _commit(self, batch: list[_Unit]) -> None:
        outcomes: list[tuple[bool, Any]] = []
        try:
            with self._lock, Session(self._engine, expire_on_commit=False) as session:
                with session.begin():
                    for unit in batch:
                        try:
                            with session.begin_nested():
                                outcomes.append((True, unit.work(session)))
                        except Exception as exc:
                            outcomes.append((False, exc))
        except Exception as exc:  # the commit itself failed: nothing of the batch is durable
            for unit in batch:
                unit.future.set_exception(exc)
            return
        for unit, (ok, value) in zip(batch, outcomes, strict=True):
            if ok:
                unit.future.set_result(value)
            else:
                unit.future.set_exception(value)
