"""One node under ``konsort serve``, loaded through the operator API over loopback.

For each database the bench runs on, a scratch node is made with the real
CLI (``konsort init``, ``konsort apikey create``), served, and filled with
customers, each funded by one large purchase so that redemptions never run
out of points. Then three rows:

* earn:    ``POST /customers/{id}/purchases``, a new Idempotency-Key each time;
* redeem:  ``POST /customers/{id}/redemptions`` of 5 points;
* balance: ``GET /customers/{id}/balance``;

each cycling over all customers. The write rows are compared with the ceiling's
two-row transaction on the same database. Then a full loyalty program is
applied with ``konsort program apply`` (ten running campaigns of every kind,
four tiers whose thresholds no customer reaches, so every earn also sums the
member's rolling spend, a paid plan every customer then pays for, two
challenges and a personalised offer rule; every customer granted every
consent at enrolment) and a fourth row earns under it. Cashback is left out:
it is a second ledger transaction (store credit is money, kept apart from
points), not rule evaluation.

* earn under program: the same purchase, compared with the mean of the flat
  earn row and a flat row measured right after it on the same node (the program
  replaced by a flat one), so that the machine's speed drifting between rows
  (a shared VM's does, by a fifth and more) cancels out.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.ceiling import WRITE_BODY, txn_key
from bench.databases import scratch_postgres, sqlalchemy_url
from bench.harness import Bench
from bench.load import LoadSpec
from bench.processes import HOST, child_env, free_port, run_command, serving

NODE_ID = "cafe"
API = "/api/v1/customers"
#: One purchase per customer before the rows: 10,000,000 øre earns 100,000 points,
#: enough for 20,000 redemptions of 5 points each.
FUNDING_AMOUNT = 10_000_000
REDEEM_POINTS = 5
#: Every bench customer grants every consent, so offers are evaluated for each.
CONSENTS = {
    purpose: True
    for purpose in (
        "marketing",
        "profiling",
        "personalised_offers",
        "analytics",
        "partner_transfers",
    )
}


@dataclass(frozen=True)
class RunningNode:
    port: int
    pid: int
    token: str
    customers: list[str]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}

    def paths(self, suffix: str) -> list[str]:
        return [f"{API}/{customer}/{suffix}" for customer in self.customers]


def konsort_command() -> list[str]:
    """The ``konsort`` script of this interpreter's environment."""
    script = Path(sys.executable).parent / "konsort"
    if script.exists():
        return [str(script)]
    found = shutil.which("konsort")
    return [found] if found else [sys.executable, "-m", "node.cli"]


@contextmanager
def _database_url(bench: Bench, database: str) -> Iterator[str | None]:
    if database == "sqlite":
        yield None  # the node's default: SQLite in its data directory
    else:
        with scratch_postgres(bench.options.postgres_url, label="node") as url:
            yield sqlalchemy_url(url)


@contextmanager
def running_node(bench: Bench, database: str) -> Iterator[RunningNode]:
    """A freshly initialised node with customers, served until the block ends."""
    konsort = konsort_command()
    data_dir = bench.workdir / f"node-{database}"
    base = [*konsort, "--data-dir", str(data_dir)]
    env = child_env()
    with _database_url(bench, database) as url:
        bench.progress(f"initialising a node ({database}) in {data_dir}")
        database_args = ["--database-url", url] if url else []
        run_command([*base, "init", "--node-id", NODE_ID, *database_args], env=env)
        token = run_command([*base, "apikey", "create", "--name", "bench"], env=env)
        token = token.strip().splitlines()[-1]
        port = free_port()
        with serving(
            [*base, "serve", "--port", str(port)],
            ready_url=f"http://{HOST}:{port}/readyz",
            log=bench.workdir / f"node-{database}.log",
            env=env,
        ) as process:
            count = bench.options.customers
            bench.progress(f"enrolling and funding {count:,} customers")
            customers = asyncio.run(_populate(port, token, count, bench.options.concurrency))
            yield RunningNode(port, process.pid, token, customers)


async def _populate(port: int, token: str, count: int, concurrency: int) -> list[str]:
    """Enrol ``count`` customers and fund each with one purchase, ``concurrency`` at a time."""
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=concurrency)
    customers: list[str] = []

    async def post(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> httpx.Response:
        response = await client.post(path, json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
        if response.status_code != 201:
            raise RuntimeError(f"POST {path}: HTTP {response.status_code} {response.text}")
        return response

    async def enrol_and_fund(client: httpx.AsyncClient, quota: int) -> None:
        for _ in range(quota):
            customer = str((await post(client, API, {"consents": CONSENTS})).json()["id"])
            await post(client, f"{API}/{customer}/purchases", {"amount": FUNDING_AMOUNT})
            customers.append(customer)

    async with httpx.AsyncClient(
        base_url=f"http://{HOST}:{port}", headers=headers, limits=limits, timeout=60.0
    ) as client:
        quotas = [count // concurrency + (i < count % concurrency) for i in range(concurrency)]
        async with asyncio.TaskGroup() as group:
            for quota in quotas:
                group.create_task(enrol_and_fund(client, quota))
    return sorted(customers)


def _write(node: RunningNode, suffix: str, body: str, key_prefix: str) -> LoadSpec:
    return LoadSpec(
        port=node.port,
        paths=node.paths(suffix),
        method="POST",
        body=body,
        headers=node.headers,
        expect=[201],
        idempotency_prefix=key_prefix,
        server_pid=node.pid,
    )


def program_toml() -> str:
    """Ten campaigns running now (multipliers and fixed bonuses, stackable or not,
    some by category, one member-only), four tiers, a paid plan, an action type
    and two challenges."""
    campaigns = []
    for n in range(10):
        kind = (
            f'kind = "fixed"\nbonus_points = {5 + n}'
            if n % 4 == 3
            else (f'kind = "multiplier"\nmultiplier_percent = {110 + 10 * n}')
        )
        extra = ""
        if n % 5 == 1:
            extra += 'categories = ["coffee"]\n'
        if n == 7:
            extra += 'tiers = ["gold", "platinum"]\n'
        campaigns.append(
            f'[[campaigns]]\ncode = "c{n}"\nname = "Campaign {n}"\n{kind}\n'
            f"starts_at = 2020-01-01T00:00:00Z\nends_at = 2100-01-01T00:00:00Z\n"
            f"stackable = {'false' if n % 3 == 0 else 'true'}\n{extra}"
        )
    tiers = "\n".join(
        f'[[tiers.levels]]\ncode = "{code}"\nname = "{code.title()}"\n'
        f"threshold = {threshold}\nmultiplier_percent = {percent}\n"
        for code, threshold, percent in (
            ("member", 0, 100),
            ("silver", 50_000_000, 110),
            ("gold", 100_000_000, 125),
            ("platinum", 200_000_000, 150),
        )
    )
    head = (
        "[earn]\npoints_per_unit = 1\nminimum_purchase = 1000\n"
        "categories = { coffee = 200, cake = 150 }\n\n"
    )
    # Issue 9: a paid plan (one membership lookup per purchase), an action type
    # and two challenges running (one progress upsert each per purchase).
    engagement = (
        '[[membership.plans]]\ncode = "club"\nname = "Club"\nfee = 4900\n'
        "earn_multiplier_percent = 150\n\n"
        '[[actions]]\ncode = "review"\nname = "Review"\npoints = 20\ncap = 2\n\n'
        + "\n".join(
            f'[[challenges]]\ncode = "{goal}"\nname = "{goal}"\ngoal = "{goal}"\n'
            f"target = {target}\nreward_points = 100\n"
            "starts_at = 2020-01-01T00:00:00Z\nends_at = 2100-01-01T00:00:00Z\n"
            for goal, target in (("visits", 50), ("spend", 10_000_000))
        )
    )
    # Issue 9: a personalised offer rule (consent guard, limit and spend facts per earn).
    offers = (
        '\n[[offers]]\ncode = "big-spender"\nname = "Big spender"\n'
        'condition = { kind = "spend_above", amount = 1000, within_days = 30 }\n'
        "reward = { bonus_points = 50 }\n"
    )
    return head + "\n".join(campaigns) + "\n" + tiers + "\n" + engagement + offers


def apply_program(bench: Bench, node: RunningNode, database: str) -> None:
    path = bench.workdir / f"program-{database}.toml"
    path.write_text(program_toml())
    base = [*konsort_command(), "--data-dir", str(bench.workdir / f"node-{database}")]
    bench.progress("applying a program with ten campaigns and four tiers")
    run_command([*base, "program", "apply", str(path), "--actor", "bench"], env=child_env())
    bench.progress(f"paying the club fee for {len(node.customers):,} customers")
    asyncio.run(_join_club(node, bench.options.concurrency))


def apply_flat_program(bench: Bench, database: str) -> None:
    """Back to the flat rate of the settings (as a stored version), for the row after."""
    path = bench.workdir / f"flat-{database}.toml"
    path.write_text(FLAT_PROGRAM)
    base = [*konsort_command(), "--data-dir", str(bench.workdir / f"node-{database}")]
    bench.progress("back to a flat program")
    run_command([*base, "program", "apply", str(path), "--actor", "bench"], env=child_env())


#: The settings' own earn rate and expiry (node.settings defaults) as a program.
FLAT_PROGRAM = "[earn]\npoints_per_unit = 1\n\n[expiry]\ndays = 365\n"


async def _join_club(node: RunningNode, concurrency: int) -> None:
    """Every bench customer holds the paid plan while the program row runs."""
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=f"http://{HOST}:{node.port}", headers=node.headers, limits=limits, timeout=60.0
    ) as client:

        async def pay(customers: list[str]) -> None:
            for customer in customers:
                response = await client.post(
                    f"{API}/{customer}/membership/payments",
                    json={"plan": "club", "amount": 4900},
                    headers={"Idempotency-Key": uuid.uuid4().hex},
                )
                if response.status_code != 201:
                    raise RuntimeError(f"club fee: HTTP {response.status_code} {response.text}")

        async with asyncio.TaskGroup() as group:
            for index in range(concurrency):
                group.create_task(pay(node.customers[index::concurrency]))


def run(bench: Bench) -> None:
    for database in bench.options.databases:
        with running_node(bench, database) as node:
            tag = uuid.uuid4().hex[:8]
            ceiling = txn_key(database)
            bench.measure(
                f"node.{database}.earn",
                f"node earn ({database})",
                "earns/s",
                _write(node, "purchases", WRITE_BODY, f"earn-{tag}"),
                baseline=ceiling,
            )
            bench.measure(
                f"node.{database}.redeem",
                f"node redeem ({database})",
                "redeems/s",
                _write(node, "redemptions", f'{{"points": {REDEEM_POINTS}}}', f"redeem-{tag}"),
                baseline=ceiling,
            )
            bench.measure(
                f"node.{database}.balance",
                f"node balance ({database})",
                "reads/s",
                LoadSpec(
                    port=node.port,
                    paths=node.paths("balance"),
                    headers={"Authorization": f"Bearer {node.token}"},
                    server_pid=node.pid,
                ),
            )
            apply_program(bench, node, database)
            bench.measure(
                f"node.{database}.earn_program",
                f"node earn under program ({database})",
                "earns/s",
                _write(node, "purchases", WRITE_BODY, f"earn-program-{tag}"),
                baseline=f"node.{database}.earn",
                baseline_after=f"node.{database}.earn_after",
            )
            apply_flat_program(bench, database)
            bench.measure(
                f"node.{database}.earn_after",
                f"node earn, flat again ({database})",
                "earns/s",
                _write(node, "purchases", WRITE_BODY, f"earn-after-{tag}"),
                baseline=ceiling,
            )
