"""What every suite gets: the options, a scratch directory, progress lines, and rows.

A suite is a function ``run(bench: Bench) -> None`` that starts what it needs,
calls :meth:`Bench.measure` once per row and stops what it started. The rows
land in one table in the order they were measured (see ``bench.__main__``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

from bench.load import LoadSpec, measure
from bench.report import Row

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass(frozen=True)
class Options:
    duration: float = 10.0
    warmup: float = 2.0
    concurrency: int = 32
    databases: tuple[str, ...] = ("sqlite",)
    #: Customers the node rows spread their requests over.
    customers: int = 1000
    #: A PostgreSQL database to connect to for creating (and dropping) scratch databases.
    postgres_url: str = DEFAULT_POSTGRES_URL


class Bench:
    def __init__(self, options: Options, workdir: Path, out: TextIO = sys.stderr) -> None:
        self.options = options
        self.workdir = workdir
        self.rows: list[Row] = []
        self._out = out
        self._started = time.monotonic()

    def progress(self, message: str) -> None:
        elapsed = time.monotonic() - self._started
        print(f"[{elapsed:6.1f}s] {message}", file=self._out, flush=True)

    def measure(
        self,
        key: str,
        label: str,
        unit: str,
        spec: LoadSpec,
        *,
        baseline: str | None = None,
        baseline_after: str | None = None,
    ) -> Row:
        """Load the server as ``spec`` says, at the bench's concurrency and duration."""
        o = self.options
        spec = replace(spec, concurrency=o.concurrency, warmup=o.warmup, duration=o.duration)
        self.progress(
            f"{label}: {o.concurrency} clients, {o.warmup:g} s warm-up + {o.duration:g} s ..."
        )
        result = measure(spec)
        row = Row(key, label, unit, result, baseline, baseline_after)
        self.rows.append(row)
        self.progress(
            f"{label}: {result.rate:,.0f} {unit}, p50 {result.p50_ms:.1f} ms, "
            f"p99 {result.p99_ms:.1f} ms, {result.errors} errors"
        )
        return row


Suite = Callable[[Bench], None]
