"""Cross-node transfers between two real node processes (issue 6).

A café and a bookshop are set up with the real CLI (``konsort init``, a
steward that signs a manifest with both, ``consortium pin-steward`` and
``load``), served by ``konsort serve`` on loopback, and given linked members:
each café member links their bookshop account through the real link flow.
Then the load generator asks the café for transfers
(``POST /api/v1/customers/{id}/transfers``, 12 café points = 5 bookshop
points each) for the row's duration, and the bench waits until the café's
outbox is empty: every transfer answered.

The row counts *completed* transfers: each one is a debit into escrow and an
outbox row at the café, a signed ``transfer.request``, verification and a
credit with its inbox decision and clearing entry at the bookshop, a signed
answer, and its verification and the escrow release at the café; every state
change is committed (fsync) before the next step. The rate is completed
transfers over the time from the first request to the last answer; latency is
per transfer from the request to the answer applied at the café, read from
the café's database afterwards.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import httpx

from bench.generator import percentile
from bench.harness import Bench
from bench.load import LoadResult, LoadSpec, measure
from bench.node_bench import konsort_command
from bench.processes import HOST, child_env, free_port, run_command, serving
from bench.report import Row

POINT_VALUES = {"cafe": 50, "bookshop": 120}
TRANSFER_POINTS = 12
FUNDING = 10_000_000
ROW = "federation.sqlite.transfer"


@dataclass(frozen=True)
class FederatedNode:
    node_id: str
    port: int
    pid: int
    token: str
    data_dir: Path

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


def _setup(bench: Bench) -> dict[str, tuple[Path, int, str]]:
    """Data dirs, ports and API keys of two members of a freshly signed consortium."""
    konsort = konsort_command()
    env = child_env()
    steward = bench.workdir / "steward"
    run_command(
        [
            *konsort,
            "steward",
            "init",
            "--steward-dir",
            str(steward),
            "--consortium",
            "bench",
            "--currency",
            "DKK",
            "--exponent",
            "2",
        ],
        env=env,
    )
    nodes = {}
    for node_id, value in POINT_VALUES.items():
        data_dir = bench.workdir / f"fed-{node_id}"
        base = [*konsort, "--data-dir", str(data_dir)]
        run_command([*base, "init", "--node-id", node_id], env=env)
        jwk = run_command([*base, "keys", "show"], env=env).splitlines()[0].split("\t")[0]
        port = free_port()
        run_command(
            [
                *konsort,
                "steward",
                "add-member",
                "--steward-dir",
                str(steward),
                "--node-id",
                node_id,
                "--display-name",
                node_id,
                "--kind",
                "business",
                "--endpoint",
                f"http://{HOST}:{port}",
                "--point-value",
                str(value),
                "--jwk",
                jwk,
            ],
            env=env,
        )
        token = run_command([*base, "apikey", "create", "--name", "bench"], env=env)
        nodes[node_id] = (data_dir, port, token.strip().splitlines()[-1])
    for data_dir, _, _ in nodes.values():
        base = [*konsort, "--data-dir", str(data_dir)]
        run_command([*base, "consortium", "pin-steward", str(steward / "steward.jwk")], env=env)
        run_command([*base, "consortium", "load", str(steward / "manifest.jws")], env=env)
    return nodes


@contextmanager
def running_pair(bench: Bench) -> Iterator[tuple[FederatedNode, FederatedNode]]:
    nodes = _setup(bench)
    env = child_env(KONSORT_FEDERATION_INTERVAL_SECONDS="0.05")
    with ExitStack() as stack:
        running = []
        for node_id, (data_dir, port, token) in nodes.items():
            process = stack.enter_context(
                serving(
                    [*konsort_command(), "--data-dir", str(data_dir), "serve", "--port", str(port)],
                    ready_url=f"http://{HOST}:{port}/readyz",
                    log=bench.workdir / f"fed-{node_id}.log",
                    env=env,
                )
            )
            running.append(FederatedNode(node_id, port, process.pid, token, data_dir))
        yield running[0], running[1]


async def _link_members(
    cafe: FederatedNode, books: FederatedNode, count: int, concurrency: int
) -> list[str]:
    """``count`` café members, funded, each linked with a bookshop member."""
    limits = httpx.Limits(max_connections=concurrency)
    gate = asyncio.Semaphore(concurrency)

    async def post(
        client: httpx.AsyncClient, path: str, body: object, headers: dict[str, str]
    ) -> dict[str, object]:
        response = await client.post(
            path, json=body, headers={**headers, "Idempotency-Key": uuid.uuid4().hex}
        )
        if response.status_code not in (201, 202):
            raise RuntimeError(f"POST {path}: HTTP {response.status_code} {response.text}")
        return dict(response.json())

    async def one(c: httpx.AsyncClient, b: httpx.AsyncClient) -> str:
        async with gate:
            ops_c = {"Authorization": f"Bearer {cafe.token}"}
            ops_b = {"Authorization": f"Bearer {books.token}"}
            member = {"consents": {"partner_transfers": True}}
            at_cafe = str((await post(c, "/api/v1/customers", member, ops_c))["id"])
            at_books = str((await post(b, "/api/v1/customers", member, ops_b))["id"])
            await post(c, f"/api/v1/customers/{at_cafe}/purchases", {"amount": FUNDING}, ops_c)
            me_b = await post(b, f"/api/v1/customers/{at_books}/tokens", None, ops_b)
            code = await post(
                b,
                "/api/v1/me/link-codes",
                {"partner": "cafe"},
                {"Authorization": f"Bearer {me_b['token']}"},
            )
            me_c = await post(c, f"/api/v1/customers/{at_cafe}/tokens", None, ops_c)
            await post(
                c,
                "/api/v1/me/links",
                {"partner": "bookshop", "link_code": code["link_code"], "subject": code["subject"]},
                {"Authorization": f"Bearer {me_c['token']}"},
            )
            return at_cafe

    async with (
        httpx.AsyncClient(base_url=cafe.url, limits=limits, timeout=60) as c,
        httpx.AsyncClient(base_url=books.url, limits=limits, timeout=60) as b,
    ):
        customers = await asyncio.gather(*(one(c, b) for _ in range(count)))
    return sorted(customers)


def _drained(node: FederatedNode, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    headers = {"Authorization": f"Bearer {node.token}"}
    while time.monotonic() < deadline:
        peers = httpx.get(
            f"{node.url}/api/v1/federation/status", headers=headers, timeout=30
        ).json()
        if all(peer["queued"] == 0 and peer["retrying"] == 0 for peer in peers["peers"]):
            return
        time.sleep(0.2)
    raise RuntimeError(f"{node.node_id}'s outbox did not drain in {timeout:.0f} s")


def _completed(cafe: FederatedNode) -> tuple[int, int, float, list[float]]:
    """(accepted, other, seconds from first request to last answer, latencies in ms)."""
    with sqlite3.connect(cafe.data_dir / "konsort.db") as db:
        rows = db.execute(
            "SELECT status, created_at, updated_at FROM federated_operation"
            " WHERE direction = 'out' AND kind = 'transfer'"
        ).fetchall()
    parse = datetime.fromisoformat
    accepted = [(parse(c), parse(u)) for status, c, u in rows if status == "accepted"]
    if not accepted:
        return 0, len(rows), 0.0, []
    span = (max(u for _, u in accepted) - min(c for c, _ in accepted)).total_seconds()
    latencies = sorted((u - c).total_seconds() * 1000 for c, u in accepted)
    return len(accepted), len(rows) - len(accepted), span, latencies


def run(bench: Bench) -> None:
    if "sqlite" not in bench.options.databases:
        return
    with running_pair(bench) as (cafe, books):
        count = min(bench.options.customers, 200)
        bench.progress(f"federation: linking {count} members across café and bookshop")
        customers = asyncio.run(_link_members(cafe, books, count, bench.options.concurrency))
        _drained(cafe)
        _drained(books)
        o = bench.options
        spec = LoadSpec(
            port=cafe.port,
            paths=[f"/api/v1/customers/{c}/transfers" for c in customers],
            method="POST",
            body=f'{{"partner": "bookshop", "points": {TRANSFER_POINTS}}}',
            headers={"Authorization": f"Bearer {cafe.token}", "Content-Type": "application/json"},
            expect=[202],
            idempotency_prefix=f"xfer-{uuid.uuid4().hex[:8]}",
            server_pid=cafe.pid,
        )
        spec = replace(spec, concurrency=o.concurrency, warmup=o.warmup, duration=o.duration)
        bench.progress(
            f"cross-node transfers: {o.concurrency} clients for {o.warmup + o.duration:g} s,"
            " then until every transfer is answered ..."
        )
        asked = measure(spec)
        _drained(cafe)
        accepted, other, span, latencies = _completed(cafe)
        rate = accepted / span if span else 0.0
        result = LoadResult(
            ok=accepted,
            errors=other + asked.errors,
            seconds=span,
            p50_ms=percentile(latencies, 0.50),
            p99_ms=percentile(latencies, 0.99),
            p999_ms=percentile(latencies, 0.999),
            max_ms=latencies[-1] if latencies else 0.0,
            mean_ms=sum(latencies) / len(latencies) if latencies else 0.0,
            server_cpu=None,
            client_cpu=asked.client_cpu,
            machine_cpu=None,
            error_samples=asked.error_samples,
        )
        bench.rows.append(Row(ROW, "cross-node transfers (sqlite)", "transfers/s", result))
        bench.progress(
            f"cross-node transfers: {accepted:,} completed in {span:.1f} s = {rate:,.0f}/s"
            f" (requests were accepted at {asked.rate:,.0f}/s), p50 {result.p50_ms:.0f} ms,"
            f" p99 {result.p99_ms:.0f} ms"
        )
