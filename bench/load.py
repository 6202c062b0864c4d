"""What to load and what came back; :func:`measure` runs the load generator process.

:func:`measure` starts ``python -m bench.generator`` (so the generator never
shares the server's interpreter or GIL), hands it a :class:`LoadSpec` as JSON
on stdin and reads one :class:`LoadResult` as JSON back from stdout. How the
generator loads a server and counts is described in bench.generator.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.processes import dying_with_parent


@dataclass(frozen=True)
class LoadSpec:
    port: int
    #: Request targets, cycled round-robin.
    paths: list[str]
    method: str = "GET"
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    #: Statuses that count as success; anything else is an error.
    expect: list[int] = field(default_factory=lambda: [200])
    #: When set, every request carries ``Idempotency-Key: <prefix>-<n>``.
    idempotency_prefix: str | None = None
    concurrency: int = 32
    warmup: float = 2.0
    duration: float = 10.0
    #: The server's pid, to report its CPU use over the measured window (Linux).
    server_pid: int | None = None
    host: str = "127.0.0.1"


@dataclass(frozen=True)
class LoadResult:
    ok: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    mean_ms: float
    #: Share of one core the server / the generator used during the window.
    server_cpu: float | None
    client_cpu: float
    #: Busy time of all cores together, in cores (Linux): anything above
    #: server + client is other work on the machine, disturbing the row.
    machine_cpu: float | None
    #: A few distinct error descriptions (the count above is complete).
    error_samples: list[str]

    @property
    def other_cpu(self) -> float | None:
        """Cores busy with neither the server nor the generator during the window."""
        if self.machine_cpu is None or self.server_cpu is None:
            return None
        return max(0.0, self.machine_cpu - self.server_cpu - self.client_cpu)

    @property
    def rate(self) -> float:
        """Successful requests per second."""
        return self.ok / self.seconds if self.seconds else 0.0


def measure(spec: LoadSpec) -> LoadResult:
    """Run the load generator in a child process and return what it measured."""
    completed = subprocess.run(
        dying_with_parent([sys.executable, "-m", "bench.generator"]),
        cwd=Path(__file__).resolve().parents[1],
        input=json.dumps(asdict(spec)),
        capture_output=True,
        text=True,
        timeout=spec.warmup + spec.duration + 90,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"load generator failed:\n{completed.stderr.strip()}")
    return LoadResult(**json.loads(completed.stdout))
