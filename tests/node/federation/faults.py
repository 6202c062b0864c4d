"""The federation fault harness: real ``konsort serve`` processes on loopback,
killed with SIGKILL at random moments while a till-like client keeps working.

Shape of a run (:func:`run_faults`):

1. Set up with the real CLI only: ``konsort steward init``, ``konsort init`` per
   node, ``konsort steward add-member`` (endpoint ``http://127.0.0.1:<port>``),
   ``konsort consortium pin-steward`` and ``load``, ``konsort apikey create``.
2. Start every node (``konsort serve``, delivery every
   ``federation_interval_seconds``), give each business its partner rewards
   (:data:`PARTNER_REWARDS`), enrol ``members`` people at every node, link
   each person's accounts pairwise (link codes through the customer API) and
   fund them with a purchase.
3. The workload: ``workers`` threads draw operations from ``random.Random(seed
   + worker)`` (transfers between businesses in random directions, partner
   reward redemptions at another business, donations to the charity, named or
   anonymous, local purchases and redemptions) while the chaos thread SIGKILLs
   a random node at random moments and restarts it after a short pause. A
   request that fails (connection refused, reset, 5xx from a dying process,
   502 ``partner_unreachable`` when the reward's node is down) has an unknown
   outcome: the client retries it with the same Idempotency-Key until it gets
   an answer, as a till does. The "tote" reward has a small stock and a
   per-member limit of two, so some redemptions the member's node accepted
   are rejected by the reward's node (``limit_exceeded``, or
   ``reward_unavailable`` when its stock ran out in between) and refunded.
4. Stop the chaos, let every node deliver until no outbox holds a pending
   message (``GET /api/v1/federation/status``), stop the nodes and open each
   SQLite file directly (:func:`check_network`).

What is checked afterwards:

- every outgoing operation (transfer, redemption, donation) is final
  (accepted or rejected); each accepted out-operation at A has the accepted
  in-operation at B with the same ref and the same four numbers; each
  in-operation has its out-operation; a rejected one has none;
- every rejected out-operation was refunded once at the sender (one
  ``<kind>-refund`` ledger transaction with its ref, its member and its
  points) and no accepted one was;
- the vouchers B issued for partner redemptions are exactly the vouchers in
  the accepted redemptions' answers at their senders, one per accepted
  in-redemption; the receipts the charity wrote are exactly the receipts
  the donors' nodes hold, and a donation is anonymous at the charity exactly
  when it was sent anonymous;
- every ``escrow:<peer>`` account is zero; ``verify_ledger`` is ok everywhere;
- clearing entries match pairwise: the same refs, kinds, creditors, values;
- the workload agrees: the operation ids the client was answered (202) are
  exactly the out-operations of that node, no more (no retry made a second
  one) and no fewer; the points the client saw earned are each ledger's
  ISSUED account; its REDEEMED account holds the points the client saw
  redeemed plus the price (in its points) of every partner reward it issued;
- value is conserved exactly, in minor units. With ``v_n`` node n's point
  value, ``B_n`` the sum of its customer balances, ``E_n`` and ``R_n`` the
  points earned and redeemed (locally, by the till) there, ``kept`` the
  ``sender_kept_minor`` of every accepted out-operation (the rounding the
  sender keeps, protocol.value) and ``paid`` the ``value_minor`` of every
  accepted partner redemption and donation::

      sum_n v_n * B_n  +  sum_accepted kept  +  sum_accepted paid
          ==  sum_n v_n * (E_n - R_n)

  because every accepted out-operation takes ``sender_points * v_A =
  value_minor + kept`` from the sender's members; a transfer gives
  ``receiver_points * v_B = value_minor`` back to the receiver's members,
  while a partner reward (a voucher, paid through the clearing) and a
  donation (value given to the charity) leave the members' balances for
  good; a rejected one is refunded whole.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import select

from bench.processes import HOST, child_env, dying_with_parent, free_port
from node.db import Database
from node.services.ledger import ISSUED, REDEEMED
from node.services.partner_rewards import REWARD_KIND
from node.services.verification import verify_ledger
from node.store.federation_models import ClearingEntry, FederatedOperation
from node.store.models import LedgerTransaction
from node.store.program_models import Voucher

#: node id, kind, point value (minor units per point): three businesses, so
#: transfers and partner rewards flow in all six directions, and a charity.
MEMBERS: tuple[tuple[str, str, int], ...] = (
    ("cafe", "business", 50),
    ("bookshop", "business", 120),
    ("bikeshop", "business", 100),
    ("charity", "charity", 100),
)
#: What every business offers partner customers: one without limits, one
#: that runs out and that a member may hold only twice (rejections at B).
PARTNER_REWARDS: tuple[dict[str, Any], ...] = (
    {"code": "mug", "name": "Mug", "points": 9, "partner_offer": True},
    {"code": "tote", "name": "Tote bag", "points": 4, "stock": 12, "per_customer_limit": 2,
     "partner_offer": True},
)  # fmt: skip
#: Seconds a client keeps retrying one request before the run fails.
RETRY_DEADLINE = 90.0
#: Status codes that mean "the node did not decide": retry with the same key.
UNDECIDED = {502, 503, 504}


class FaultRunError(AssertionError):
    """The network broke an invariant, or did not settle."""


def konsort(directory: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run one `konsort` command against ``directory``; its stdout."""
    completed = subprocess.run(
        [sys.executable, "-m", "node.cli", "--data-dir", str(directory), *args],
        capture_output=True,
        text=True,
        env=env or child_env(),
        check=False,
        timeout=120,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"konsort {' '.join(args[:3])} failed:\n{completed.stderr.strip()}")
    return completed.stdout


@dataclass
class FaultNode:
    node_id: str
    kind: str
    point_value: int
    directory: Path
    port: int
    env: dict[str, str]
    api_key: str = ""
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    kills: int = 0

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def database_url(self) -> str:
        return f"sqlite:///{(self.directory / 'konsort.db').resolve()}"

    def start(self) -> None:
        args = ["-m", "node.cli", "--data-dir", str(self.directory), "serve", "--port"]
        with open(self.directory / "node.log", "ab") as log:
            self.process = subprocess.Popen(
                dying_with_parent([sys.executable, *args, str(self.port)]),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
            )
        self.starts += 1

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.process is not None and self.process.poll() is not None:
                    raise RuntimeError(f"{self.node_id} exited; see {self.directory}/node.log")
                try:
                    if client.get(f"{self.url}/readyz").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
        raise RuntimeError(f"{self.node_id} not ready after {timeout:.0f} s")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, a transaction cut wherever it was."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.kills += 1

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def node_env(federation_interval: float) -> dict[str, str]:
    return child_env(
        KONSORT_FEDERATION_INTERVAL_SECONDS=str(federation_interval),
        KONSORT_EXPIRY_INTERVAL_SECONDS="0",
        KONSORT_PROGRAM_JOBS_INTERVAL_SECONDS="0",
        KONSORT_WEBHOOK_INTERVAL_SECONDS="0",
        KONSORT_CUSTOMER_TOKEN_TTL_SECONDS="86400",
        KONSORT_LOG_LEVEL="WARNING",
    )


def set_up_network(
    root: Path,
    members: Sequence[tuple[str, str, int]] = MEMBERS,
    *,
    federation_interval: float = 0.2,
) -> list[FaultNode]:
    """Data directories, keys, a signed manifest and an API key per node, by the CLI."""
    env = node_env(federation_interval)
    steward = root / "steward"
    nodes = [
        FaultNode(node_id, kind, value, root / node_id, free_port(), env)
        for node_id, kind, value in members
    ]

    def init(node: FaultNode) -> None:
        printed = konsort(node.directory, "init", "--node-id", node.node_id, env=env)
        (root / f"{node.node_id}.jwk").write_text(printed)

    konsort(root, "steward", "init", "--steward-dir", str(steward), "--consortium",
            "konsort-faults", "--currency", "DKK", "--exponent", "2", env=env)  # fmt: skip
    with ThreadPoolExecutor(len(nodes)) as pool:
        list(pool.map(init, nodes))
    for node in nodes:
        konsort(root, "steward", "add-member", "--steward-dir", str(steward),
                "--node-id", node.node_id, "--display-name", node.node_id.title(),
                "--kind", node.kind, "--endpoint", node.url,
                "--point-value", str(node.point_value),
                "--jwk", str(root / f"{node.node_id}.jwk"), env=env)  # fmt: skip

    def join(node: FaultNode) -> None:
        konsort(node.directory, "consortium", "pin-steward", str(steward / "steward.jwk"), env=env)
        konsort(node.directory, "consortium", "load", str(steward / "manifest.jws"), env=env)
        printed = konsort(node.directory, "apikey", "create", "--name", "faults", env=env)
        node.api_key = printed.strip().splitlines()[-1]

    with ThreadPoolExecutor(len(nodes)) as pool:
        list(pool.map(join, nodes))
    return nodes


@contextmanager
def running(nodes: Sequence[FaultNode]) -> Iterator[None]:
    try:
        for node in nodes:
            node.start()
        for node in nodes:
            node.wait_ready()
        yield
    finally:
        for node in nodes:
            node.stop()


# -- the client ----------------------------------------------------------------


@dataclass
class Till:
    """HTTP calls that retry an unknown outcome with the same Idempotency-Key."""

    nodes: dict[str, FaultNode]
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=10.0))
    retries: int = 0

    def call(
        self,
        node_id: str,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        token: str | None = None,
        key: str | None = None,
    ) -> httpx.Response:
        node = self.nodes[node_id]
        headers = {"Authorization": f"Bearer {token or node.api_key}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        deadline = time.monotonic() + RETRY_DEADLINE
        while True:
            try:
                response = self.client.request(
                    method, node.url + path, json=json_body, headers=headers
                )
                if response.status_code not in UNDECIDED:
                    if response.status_code >= 500:
                        raise FaultRunError(f"{node_id} {method} {path}: {response.text}")
                    return response
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise FaultRunError(f"{node_id} {method} {path}: no answer in {RETRY_DEADLINE} s")
            self.retries += 1
            time.sleep(0.05)

    def expect(self, status: int, response: httpx.Response) -> dict[str, Any]:
        if response.status_code != status:
            raise FaultRunError(f"expected {status}: {response.status_code} {response.text}")
        found: dict[str, Any] = response.json()
        return found


@dataclass
class Person:
    """One member, with an account (and a customer token) at every node."""

    accounts: dict[str, str]
    tokens: dict[str, str]


@dataclass
class Record:
    """What the client was answered, per node."""

    earned: Counter[str] = field(default_factory=Counter)
    redeemed: Counter[str] = field(default_factory=Counter)
    out_ids: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    refused: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)


def enrol_people(till: Till, record: Record, count: int, *, funding: int) -> list[Person]:
    """``count`` people with an account at every node, each funded by one purchase."""
    people = []
    for _ in range(count):
        accounts, tokens = {}, {}
        for node_id in till.nodes:
            enrolled = till.call(node_id, "POST", "/api/v1/customers",
                                 json_body={"consents": {"partner_transfers": True}},
                                 key=str(uuid.uuid4()))  # fmt: skip
            customer = str(till.expect(201, enrolled)["id"])
            minted = till.call(node_id, "POST", f"/api/v1/customers/{customer}/tokens")
            accounts[node_id], tokens[node_id] = customer, till.expect(201, minted)["token"]
            earn(till, record, node_id, customer, funding)
        people.append(Person(accounts, tokens))
    return people


def earn(till: Till, record: Record, node_id: str, customer: str, amount: int) -> None:
    bought = till.call(node_id, "POST", f"/api/v1/customers/{customer}/purchases",
                       json_body={"amount": amount}, key=str(uuid.uuid4()))  # fmt: skip
    points = int(till.expect(201, bought)["transaction"]["points"])
    with record.lock:
        record.earned[node_id] += points


def link_people(till: Till, people: Sequence[Person], timeout: float = 60.0) -> None:
    """Link every person's accounts pairwise, then wait until every link is active."""
    pairs = list(combinations(till.nodes, 2))
    for person in people:
        for a, b in pairs:
            code = till.call(b, "POST", "/api/v1/me/link-codes", json_body={"partner": a},
                             token=person.tokens[b])  # fmt: skip
            issued = till.expect(201, code)
            asked = till.call(
                a,
                "POST",
                "/api/v1/me/links",
                json_body={
                    "partner": b,
                    "link_code": issued["link_code"],
                    "subject": issued["subject"],
                },  # fmt: skip
                token=person.tokens[a],
                key=str(uuid.uuid4()),
            )
            till.expect(202, asked)
    deadline = time.monotonic() + timeout
    for person in people:
        for a, b in pairs:
            while True:
                found = till.expect(200, till.call(a, "GET", "/api/v1/me/links",
                                                   token=person.tokens[a]))  # fmt: skip
                statuses = {item["partner"]: item["status"] for item in found["items"]}
                if statuses.get(b) == "active":
                    break
                if time.monotonic() > deadline:
                    raise FaultRunError(f"link {a}-{b} not active: {statuses}")
                time.sleep(0.1)


def offer_partner_rewards(till: Till) -> None:
    """Every business's program: :data:`PARTNER_REWARDS`, offered to partner customers."""
    for node_id in businesses(till):
        applied = till.call(node_id, "PUT", "/api/v1/program", key=str(uuid.uuid4()),
                            json_body={"program": {"rewards": list(PARTNER_REWARDS)},
                                       "comment": None})  # fmt: skip
        till.expect(201, applied)


def businesses(till: Till) -> list[str]:
    return sorted(n for n, node in till.nodes.items() if node.kind == "business")


def charities(till: Till) -> list[str]:
    return sorted(n for n, node in till.nodes.items() if node.kind == "charity")


# -- the workload and the chaos ---------------------------------------------------


@dataclass
class Workload:
    till: Till
    record: Record
    people: list[Person]
    #: Relative weights of the operations.
    weights: dict[str, int] = field(
        default_factory=lambda: {
            "transfer": 14,
            "purchase": 3,
            "redemption": 2,
            "partner_redemption": 4,
            "donation": 3,
        }
    )

    def run(self, operations: int, *, workers: int, seed: int) -> None:
        shares = [operations // workers + (i < operations % workers) for i in range(workers)]
        with ThreadPoolExecutor(workers) as pool:
            futures = [
                pool.submit(self._worker, random.Random(seed + i), n) for i, n in enumerate(shares)
            ]
            for future in futures:
                future.result()

    def _worker(self, rng: random.Random, count: int) -> None:
        names, weights = zip(*self.weights.items(), strict=True)
        operations: dict[str, Callable[[random.Random, Person], None]] = {
            "transfer": self._op_transfer,
            "purchase": self._op_purchase,
            "redemption": self._op_redemption,
            "partner_redemption": self._op_partner_redemption,
            "donation": self._op_donation,
        }
        for _ in range(count):
            name = rng.choices(names, weights)[0]
            operations[name](rng, rng.choice(self.people))

    def _op_transfer(self, rng: random.Random, person: Person) -> None:
        source, target = rng.sample(businesses(self.till), 2)
        answered = self.till.call(
            source,
            "POST",
            "/api/v1/me/transfers",
            json_body={"partner": target, "points": rng.randint(1, 400)},
            token=person.tokens[source],
            key=str(uuid.UUID(int=rng.getrandbits(128))),
        )
        self._outcome(source, "transfer", answered)

    def _op_purchase(self, rng: random.Random, person: Person) -> None:
        node_id = rng.choice(sorted(self.till.nodes))
        earn(self.till, self.record, node_id, person.accounts[node_id], rng.randint(100, 50_000))

    def _op_redemption(self, rng: random.Random, person: Person) -> None:
        node_id = rng.choice(sorted(self.till.nodes))
        points = rng.randint(1, 200)
        answered = self.till.call(
            node_id,
            "POST",
            f"/api/v1/customers/{person.accounts[node_id]}/redemptions",
            json_body={"points": points},
            key=str(uuid.UUID(int=rng.getrandbits(128))),
        )
        if answered.status_code == 201:
            with self.record.lock:
                self.record.redeemed[node_id] += points
        else:
            self._refused(node_id, "redemption", answered)

    def _op_partner_redemption(self, rng: random.Random, person: Person) -> None:
        source, partner = rng.sample(businesses(self.till), 2)
        answered = self.till.call(
            source,
            "POST",
            "/api/v1/me/partner-redemptions",
            json_body={"partner": partner, "reward": rng.choice(PARTNER_REWARDS)["code"]},
            token=person.tokens[source],
            key=str(uuid.UUID(int=rng.getrandbits(128))),
        )
        self._outcome(source, "redemption", answered, label="partner_redemption")

    def _op_donation(self, rng: random.Random, person: Person) -> None:
        source = rng.choice(businesses(self.till))
        answered = self.till.call(
            source,
            "POST",
            "/api/v1/me/donations",
            json_body={
                "charity": rng.choice(charities(self.till)),
                "points": rng.randint(1, 150),
                "anonymous": rng.random() < 0.3,
            },
            token=person.tokens[source],
            key=str(uuid.UUID(int=rng.getrandbits(128))),
        )
        self._outcome(source, "donation", answered)

    def _outcome(
        self, node_id: str, kind: str, answered: httpx.Response, *, label: str | None = None
    ) -> None:
        """A 202 names the out-operation; a 4xx is a final refusal that wrote nothing."""
        if answered.status_code == 202:
            with self.record.lock:
                self.record.out_ids[node_id].add(str(answered.json()[kind]["id"]))
        else:
            self._refused(node_id, label or kind, answered)

    def _refused(self, node_id: str, kind: str, answered: httpx.Response) -> None:
        if answered.status_code not in (409, 422):
            raise FaultRunError(f"{kind} at {node_id}: {answered.status_code} {answered.text}")
        code = answered.json()["error"]["code"]
        with self.record.lock:
            self.record.refused[f"{kind}:{code}"] += 1


class Chaos:
    """SIGKILL a random node at random moments; restart it after a short pause.

    It runs in the main thread (:meth:`run_while`): a node started from another
    thread would die with that thread, since the launcher asks for
    ``PR_SET_PDEATHSIG``, which follows the starting thread, not the process.
    """

    def __init__(
        self,
        nodes: Sequence[FaultNode],
        *,
        seed: int,
        gap: tuple[float, float] = (0.5, 2.5),
        pause: tuple[float, float] = (0.05, 0.8),
    ) -> None:
        self.nodes, self.rng, self.gap, self.pause = list(nodes), random.Random(seed), gap, pause

    def run_while(self, busy: Future[None]) -> None:
        """Kill and restart nodes until ``busy`` is done; every node is up on return."""
        while True:
            try:
                busy.result(timeout=self.rng.uniform(*self.gap))
                return
            except FuturesTimeout:
                pass
            victim = self.rng.choice(self.nodes)
            victim.kill()
            time.sleep(self.rng.uniform(*self.pause))
            victim.start()
            victim.wait_ready()


def wait_delivered(till: Till, timeout: float) -> None:
    """Until no node has a pending outbox message (its peers all answered)."""
    deadline = time.monotonic() + timeout
    while True:
        pending = {}
        for node_id in till.nodes:
            status = till.expect(200, till.call(node_id, "GET", "/api/v1/federation/status"))
            pending[node_id] = sum(p["queued"] + p["retrying"] for p in status["peers"])
        if not any(pending.values()):
            return
        if time.monotonic() > deadline:
            raise FaultRunError(f"outboxes not empty after {timeout:.0f} s: {pending}")
        time.sleep(0.2)


# -- the checks -------------------------------------------------------------------


@dataclass
class NodeState:
    node_id: str
    point_value: int
    operations: list[FederatedOperation]
    clearing: list[ClearingEntry]
    totals: dict[str, int]
    violations: list[str]
    #: (ref, customer, points) of every escrow refund (transfer, redemption, donation).
    refunds: list[tuple[str, str, int]]
    #: Codes of the vouchers this node issued for partner redemptions.
    partner_vouchers: set[str]


#: Ledger kinds of the refunds of a rejected out-operation.
REFUND_KINDS = ("transfer-refund", "redemption-refund", "donation-refund")


def read_state(node: FaultNode) -> NodeState:
    db = Database(node.database_url)
    try:
        with db.read() as session:
            operations = list(session.exec(select(FederatedOperation)).all())
            clearing = list(session.exec(select(ClearingEntry)).all())
            refunded = session.exec(
                select(LedgerTransaction).where(LedgerTransaction.kind.in_(REFUND_KINDS))  # type: ignore[attr-defined]
            ).all()
            vouchers = session.exec(
                select(Voucher.code)
                .join(LedgerTransaction, Voucher.transaction_id == LedgerTransaction.id)  # type: ignore[arg-type]
                .where(LedgerTransaction.kind == REWARD_KIND)
            ).all()
        report = verify_ledger(db)
    finally:
        db.dispose()
    return NodeState(
        node.node_id,
        node.point_value,
        operations,
        clearing,
        report.totals,
        report.violations,
        [(t.reference or "", t.customer_id or "", t.points) for t in refunded],
        set(vouchers),
    )


def _detail(op: FederatedOperation) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(op.detail) if op.detail else {}
    return found


def _accepted_out(states: dict[str, NodeState], kind: str) -> list[FederatedOperation]:
    return [
        op
        for s in states.values()
        for op in s.operations
        if op.direction == "out" and op.kind == kind and op.status == "accepted"
    ]


def _numbers(op: FederatedOperation) -> tuple[str, int, int, int, int]:
    return op.kind, op.points, op.peer_points, op.value_minor, op.kept_minor


def _twin_numbers(op: FederatedOperation) -> tuple[str, int, int, int, int]:
    """The numbers the receiver's in-operation has for the out-operation ``op``: the
    points it credited its member (only a transfer credits any) and the sender's."""
    credited = op.peer_points if op.kind == "transfer" else 0
    return op.kind, credited, -op.points, op.value_minor, op.kept_minor


def _check_operations(states: dict[str, NodeState], problems: list[str]) -> None:
    by_ref = {
        (node_id, op.direction, op.ref): op
        for node_id, state in states.items()
        for op in state.operations
    }
    for node_id, state in states.items():
        for op in state.operations:
            if op.direction == "out":
                if op.status not in ("accepted", "rejected"):
                    problems.append(f"{node_id} {op.public_id}: {op.status}, not final")
                twin = by_ref.get((op.peer, "in", op.ref))
                if op.status == "accepted" and (
                    twin is None
                    or twin.status != "accepted"
                    or twin.peer != node_id
                    or _numbers(twin) != _twin_numbers(op)
                ):
                    problems.append(f"{node_id} {op.ref}: accepted, no matching in-operation")
                if op.status == "rejected" and twin is not None:
                    problems.append(f"{node_id} {op.ref}: rejected but {op.peer} took it")
            elif by_ref.get((op.peer, "out", op.ref)) is None:
                problems.append(f"{node_id} {op.ref}: in-operation without its out-operation")


def _check_refunds(states: dict[str, NodeState], problems: list[str]) -> None:
    """Each rejected out-operation refunded once, whole, to its member; nothing else."""
    for node_id, state in states.items():
        expected = Counter(
            (op.ref, op.customer_id, -op.points)
            for op in state.operations
            if op.direction == "out" and op.status == "rejected"
        )
        if Counter(state.refunds) != expected:
            differing = sorted(
                (Counter(state.refunds) - expected) + (expected - Counter(state.refunds))
            )
            problems.append(f"{node_id} refunds differ from its rejections: {differing[:5]}")


def _check_vouchers_and_receipts(states: dict[str, NodeState], problems: list[str]) -> None:
    """Vouchers issued at B are the accepted redemptions' vouchers; receipts likewise."""
    redemptions = _accepted_out(states, "redemption")
    donations = _accepted_out(states, "donation")
    for node_id, state in states.items():
        sold = [
            _detail(op).get("voucher", {}).get("code") for op in redemptions if op.peer == node_id
        ]
        taken = [op for op in state.operations if op.direction == "in" and op.kind == "redemption"]
        if set(sold) != state.partner_vouchers or len(sold) != len(taken):
            problems.append(
                f"{node_id}: {len(state.partner_vouchers)} partner vouchers issued,"
                f" {len(taken)} redemptions taken, {len(sold)} accepted at their senders"
            )
        given = {
            op.ref: (_detail(op)["receipt"]["receipt_id"], bool(_detail(op)["anonymous"]))
            for op in donations
            if op.peer == node_id and "receipt" in _detail(op)
        }
        received = {
            op.ref: (_detail(op)["receipt_id"], op.customer_id == "")
            for op in state.operations
            if op.direction == "in" and op.kind == "donation"
        }
        if given != received or len(given) != sum(op.peer == node_id for op in donations):
            differing = sorted(set(given.items()) ^ set(received.items()))[:3]
            problems.append(
                f"{node_id}: {len(received)} donation receipts written, {len(given)} held by"
                f" donors (refs, receipt ids or anonymity differ: {differing})"
            )


def _check_clearing(states: dict[str, NodeState], problems: list[str]) -> None:
    for a, b in combinations(states, 2):
        seen_a = {(c.ref, c.kind, c.creditor, c.value_minor) for c in states[a].clearing
                  if c.peer == b}  # fmt: skip
        seen_b = {(c.ref, c.kind, c.creditor, c.value_minor) for c in states[b].clearing
                  if c.peer == a}  # fmt: skip
        if seen_a != seen_b:
            problems.append(f"clearing {a}/{b} differs: {sorted(seen_a ^ seen_b)[:5]}")


def _conservation(states: dict[str, NodeState], record: Record) -> tuple[int, int]:
    """(left side, right side) of the module docstring's equation, in minor units."""
    held = sum(s.point_value * s.totals.get("customer", 0) for s in states.values())
    kept = sum(
        op.kept_minor
        for s in states.values()
        for op in s.operations
        if op.direction == "out" and op.status == "accepted"
    )
    paid = sum(
        op.value_minor for kind in ("redemption", "donation") for op in _accepted_out(states, kind)
    )
    issued = sum(s.point_value * (record.earned[n] - record.redeemed[n]) for n, s in states.items())
    return held + kept + paid, issued


def check_network(nodes: Sequence[FaultNode], record: Record) -> dict[str, NodeState]:
    """Every invariant of the module docstring; raises FaultRunError listing the breaks."""
    states = {node.node_id: read_state(node) for node in nodes}
    problems: list[str] = []
    partner_prices = Counter[str]()
    for op in _accepted_out(states, "redemption"):
        partner_prices[op.peer] += op.peer_points
    for node_id, state in states.items():
        problems += [f"{node_id} ledger: {v}" for v in state.violations]
        for code, total in state.totals.items():
            if code.startswith("escrow:") and total != 0:
                problems.append(f"{node_id} {code} holds {total}")
        out_ids = {op.public_id for op in state.operations if op.direction == "out"}
        if out_ids != record.out_ids[node_id]:
            problems.append(
                f"{node_id}: client saw {len(record.out_ids[node_id])} operations, "
                f"the node has {len(out_ids)}"
            )
        issued, redeemed = -state.totals.get(ISSUED, 0), state.totals.get(REDEEMED, 0)
        expected = (record.earned[node_id], record.redeemed[node_id] + partner_prices[node_id])
        if (issued, redeemed) != expected:
            problems.append(
                f"{node_id}: ledger issued {issued} and redeemed {redeemed}, the client saw "
                f"{record.earned[node_id]} earned and {record.redeemed[node_id]} redeemed, and"
                f" partner rewards took {partner_prices[node_id]}"
            )
    _check_operations(states, problems)
    _check_refunds(states, problems)
    _check_vouchers_and_receipts(states, problems)
    _check_clearing(states, problems)
    left, right = _conservation(states, record)
    if left != right:
        problems.append(f"value not conserved: {left} held, kept and paid; {right} issued")
    if problems:
        raise FaultRunError(f"{len(problems)} problems:\n" + "\n".join(problems[:40]))
    return states


# -- one run ----------------------------------------------------------------------


@dataclass
class FaultReport:
    operations: int
    #: ``<kind>:<status>`` of every out-operation, e.g. ``redemption:rejected``.
    outcomes: dict[str, int]
    #: ``<kind>:<reason>`` of the rejected ones.
    rejections: dict[str, int]
    kills: int
    retries: int
    refused: dict[str, int]
    seconds: float
    phases: dict[str, float]

    def summary(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True)


def run_faults(
    root: Path,
    *,
    operations: int = 1_000,
    members: int = 8,
    workers: int = 4,
    seed: int = 20260302,
    funding: int = 200_000,
    drain_timeout: float = 120.0,
    chaos_gap: tuple[float, float] = (0.5, 2.5),
) -> FaultReport:
    """Set up, run the workload under SIGKILLs, settle, stop, check. Raises on a break."""
    started = time.monotonic()
    nodes = set_up_network(root)
    till = Till({node.node_id: node for node in nodes})
    record = Record()
    phases = {"setup": time.monotonic() - started}
    with running(nodes):
        offer_partner_rewards(till)
        people = enrol_people(till, record, members, funding=funding)
        link_people(till, people)
        phases["enrol_and_link"] = time.monotonic() - started - sum(phases.values())
        workload = Workload(till, record, people)
        with ThreadPoolExecutor(1) as background:
            busy = background.submit(workload.run, operations, workers=workers, seed=seed)
            Chaos(nodes, seed=seed, gap=chaos_gap).run_while(busy)
        phases["workload"] = time.monotonic() - started - sum(phases.values())
        wait_delivered(till, drain_timeout)
        phases["drain"] = time.monotonic() - started - sum(phases.values())
    states = check_network(nodes, record)
    till.client.close()
    out = [op for s in states.values() for op in s.operations if op.direction == "out"]
    return FaultReport(
        operations=operations,
        outcomes=dict(Counter(f"{op.kind}:{op.status}" for op in out)),
        rejections=dict(Counter(f"{op.kind}:{op.reason}" for op in out if op.status == "rejected")),
        kills=sum(node.kills for node in nodes),
        retries=till.retries,
        refused=dict(record.refused),
        seconds=round(time.monotonic() - started, 1),
        phases={name: round(seconds, 1) for name, seconds in phases.items()},
    )
