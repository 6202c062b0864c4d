"""The node's sense of time, injected everywhere so tests can move it.

All timestamps are timezone-aware UTC. Nothing else in node/ calls
``datetime.now`` or ``time.time`` for domain time.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to (tests, demos, simulations)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._now += delta

    def set(self, moment: datetime) -> None:
        with self._lock:
            self._now = moment


def isoformat(moment: datetime) -> str:
    """RFC 3339 with a ``Z`` suffix, as every API answer writes times."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
