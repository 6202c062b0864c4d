"""Progress bars for long CLI work (retention runs, audit verification, seeding).

A thin layer over tqdm: it writes to stderr, only when stderr is a terminal
(logs and CI output stay clean), and the caller reports progress in whatever
unit it counts (rows, customers, entries).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Never, Protocol

from tqdm import tqdm


class Progress(Protocol):
    def advance(self, amount: int = 1) -> None: ...


class _Bar:
    __slots__ = ("_bar",)

    def __init__(self, bar: tqdm[Never] | None) -> None:
        self._bar = bar

    def advance(self, amount: int = 1) -> None:
        if self._bar is not None and amount:
            self._bar.update(amount)


@contextmanager
def progress_bar(
    total: int | None, desc: str, *, unit: str = "rows", quiet: bool = False
) -> Iterator[Progress]:
    """A progress bar on stderr; silent when ``quiet`` or stderr is not a terminal."""
    if quiet or not sys.stderr.isatty():
        yield _Bar(None)
        return
    with tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True) as bar:
        yield _Bar(bar)
