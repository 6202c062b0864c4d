"""The load generator, run as ``python -m bench.generator`` (see bench.load.measure).

``concurrency`` workers each hold one keep-alive HTTP/1.1 connection and send
the next request as soon as the previous answer is complete (a closed loop; no
pipelining). Requests are cycled round-robin over the spec's paths; with an
``idempotency_prefix`` every request carries a fresh ``Idempotency-Key``.
Requests that complete during the warm-up are not counted; after it, every
request that completes within ``duration`` seconds counts, as a success when
its status is expected and as an error otherwise (a dropped connection is an
error too, and the worker reconnects). Latency is measured per request, from
writing it to having read the whole response.

The client is a few lines of asyncio on uvloop with httptools' response parser
rather than httpx.AsyncClient: on the two-core reference machine httpx reached
about 600 requests/s on one connection and 230/s on 32, each at a full core,
while this client drives over 12,000/s on 32 connections at half a core. The
generator's core must stay well below saturation, or it, not the server, is
what the bench measures. The "ceiling hello" row shows how far above the
node's rates the generator can go, and ``client_cpu`` reports the share of one
core it used in each row. ``machine_cpu`` (all cores busy, in cores) shows how
much else ran meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import sys
import time
from dataclasses import asdict
from typing import Any

from bench.load import LoadResult, LoadSpec

#: Distinct error descriptions kept as examples (the count is always complete).
ERROR_SAMPLES = 5


def percentile(ordered: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list (0.0 when empty)."""
    if not ordered:
        return 0.0
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def _process_cpu_seconds(pid: int) -> float | None:
    """User plus system CPU seconds of a process and all its threads (Linux only)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_busy_seconds() -> float | None:
    """CPU seconds all cores spent busy since boot (Linux only)."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            ticks = [int(n) for n in stat.readline().split()[1:]]
    except OSError:
        return None
    idle = ticks[3] + ticks[4]  # idle and iowait
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class _CpuWindow:
    """CPU used by the server, this process and the whole machine between two samples."""

    def __init__(self, server_pid: int | None) -> None:
        self._pid = server_pid
        self._start = self._sample()

    def _sample(self) -> tuple[float | None, float, float | None]:
        server = _process_cpu_seconds(self._pid) if self._pid else None
        return server, time.process_time(), _machine_busy_seconds()

    def shares(self, seconds: float) -> tuple[float | None, float, float | None]:
        """(server, client, machine) CPU as shares of one core over ``seconds``."""
        end = self._sample()
        server = None
        if end[0] is not None and self._start[0] is not None:
            server = (end[0] - self._start[0]) / seconds
        machine = None
        if end[2] is not None and self._start[2] is not None:
            machine = (end[2] - self._start[2]) / seconds
        return server, (end[1] - self._start[1]) / seconds, machine


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection with at most one request in flight."""

    def __init__(self) -> None:
        import httptools

        self._parser = httptools.HttpResponseParser(self)
        self._parse_error = httptools.HttpParserError
        self._transport: Any = None  # uvloop's transports are not asyncio.Transport
        self._answer: asyncio.Future[int] | None = None

    def connection_made(self, transport: Any) -> None:
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except self._parse_error as exc:
            self._fail(ConnectionError(f"bad response: {exc}"))

    def on_message_complete(self) -> None:
        if self._answer is not None and not self._answer.done():
            self._answer.set_result(self._parser.get_status_code())

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(ConnectionError("connection closed"))

    def _fail(self, exc: Exception) -> None:
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(exc)
        if self._transport is not None:
            self._transport.close()

    @property
    def closed(self) -> bool:
        return self._transport is None or self._transport.is_closing()

    async def send(self, request: bytes) -> int:
        """Write one request and wait for its complete response; returns the status."""
        if self.closed:
            raise ConnectionError("connection closed")
        self._answer = asyncio.get_running_loop().create_future()
        self._transport.write(request)
        return await self._answer

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


class _Requests:
    """Pre-encoded requests, cycled round-robin, each with a fresh idempotency key."""

    def __init__(self, spec: LoadSpec) -> None:
        body = spec.body.encode()
        common = f"Host: {spec.host}:{spec.port}\r\n" + "".join(
            f"{name}: {value}\r\n" for name, value in spec.headers.items()
        )
        if body or spec.method not in ("GET", "HEAD"):
            common += f"Content-Length: {len(body)}\r\n"
        self._heads = [f"{spec.method} {path} HTTP/1.1\r\n{common}".encode() for path in spec.paths]
        self._body = body
        self._prefix = spec.idempotency_prefix
        self._count = 0

    def next(self) -> bytes:
        head = self._heads[self._count % len(self._heads)]
        self._count += 1
        if self._prefix is None:
            return head + b"\r\n" + self._body
        key = f"Idempotency-Key: {self._prefix}-{self._count}\r\n\r\n".encode()
        return head + key + self._body


async def _run(spec: LoadSpec) -> LoadResult:
    loop = asyncio.get_running_loop()
    requests = _Requests(spec)
    expect = frozenset(spec.expect)
    clock = time.perf_counter
    begin = clock() + spec.warmup
    end = begin + spec.duration
    latencies: list[float] = []
    errors: list[str] = []

    async def connect() -> _Connection:
        _, connection = await loop.create_connection(_Connection, spec.host, spec.port)
        return connection

    async def worker() -> None:
        connection = await connect()
        try:
            while (started := clock()) < end:
                if connection.closed:  # the server may close between requests; not an error
                    connection = await connect()
                    started = clock()
                try:
                    status: int | None = await connection.send(requests.next())
                    problem = None if status in expect else f"HTTP {status}"
                except (ConnectionError, OSError) as exc:
                    status, problem = None, f"{type(exc).__name__}: {exc}"
                finished = clock()
                if begin <= finished < end:
                    if problem is None:
                        latencies.append(finished - started)
                    else:
                        errors.append(problem)
                if status is None:
                    connection.close()
        finally:
            connection.close()

    async def cpu_window() -> tuple[float | None, float, float | None]:
        await asyncio.sleep(max(0.0, begin - clock()))
        window = _CpuWindow(spec.server_pid)
        await asyncio.sleep(max(0.0, end - clock()))
        return window.shares(spec.duration)

    sampler = asyncio.create_task(cpu_window())
    workers = [asyncio.create_task(worker()) for _ in range(spec.concurrency)]
    done, stuck = await asyncio.wait(workers, timeout=spec.warmup + spec.duration + 30)
    for task in stuck:
        task.cancel()
    errors.extend("timed out" for _ in stuck)
    for task in done:
        if task.exception() is not None:
            errors.append(f"worker failed: {task.exception()!r}")
    server_cpu, client_cpu, machine_cpu = await sampler
    latencies.sort()
    to_ms = 1000.0
    return LoadResult(
        ok=len(latencies),
        errors=len(errors),
        seconds=spec.duration,
        p50_ms=percentile(latencies, 0.50) * to_ms,
        p99_ms=percentile(latencies, 0.99) * to_ms,
        p999_ms=percentile(latencies, 0.999) * to_ms,
        max_ms=(latencies[-1] if latencies else 0.0) * to_ms,
        mean_ms=(sum(latencies) / len(latencies) if latencies else 0.0) * to_ms,
        server_cpu=server_cpu,
        client_cpu=client_cpu,
        machine_cpu=machine_cpu,
        error_samples=sorted(set(errors))[:ERROR_SAMPLES],
    )


def main() -> int:
    raw: dict[str, Any] = json.load(sys.stdin)
    spec = LoadSpec(**raw)
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] brings uvloop
        result = asyncio.run(_run(spec))
    else:
        result = uvloop.run(_run(spec))
    json.dump(asdict(result), sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
