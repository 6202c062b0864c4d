"""The per-member operations `make bench-scale` times, through the service layer.

Each operation is what a till, the portal or a privacy officer asks about one
member, called in-process as the routes call it (so the figure is the
database and service cost, without HTTP): earn, redeem, balance, a history
page, finding a member by email, the consent guard and one member's access
export. Every sample picks another seeded member at random (a fixed random
stream, so runs compare), so caches hold only what a real node's would.

While an operation runs, PostgreSQL's per-table counters tell whether it read
any large table without an index (:func:`table_scans`).
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from bench.generator import percentile
from node.db import Database
from node.secrets import NodeSecrets
from node.seed_people import customer_id_for, synthetic_email
from node.services import consent, customers, ledger, points
from node.services.access_export import collect_sections_txn
from node.settings import Settings
from node.store.sql import raw

#: Tables this small are read whole by any sensible plan; a scan of them is no finding.
SCAN_THRESHOLD_ROWS = 5_000


@dataclass(frozen=True)
class OpContext:
    db: Database
    settings: Settings
    secrets: NodeSecrets
    seed: int
    customers: int
    now: datetime


Operation = Callable[[OpContext, int], object]


def _member(ctx: OpContext, number: int) -> str:
    return customer_id_for(ctx.seed, number)


def earn(ctx: OpContext, number: int) -> object:
    return points.record_purchase(
        ctx.db,
        ctx.settings,
        customer_id=_member(ctx, number),
        amount=12_345,
        currency=ctx.settings.currency,
        order_ref=None,
        idempotency_key=uuid.uuid4().hex,
        now=ctx.now,
        actor="bench",
    )


def redeem(ctx: OpContext, number: int) -> object:
    # The earn samples came first and went to the same members, so 1 point is there.
    return points.redeem_points(
        ctx.db,
        customer_id=_member(ctx, number),
        points=1,
        reference=None,
        idempotency_key=uuid.uuid4().hex,
        now=ctx.now,
        actor="bench",
    )


def balance(ctx: OpContext, number: int) -> object:
    return ledger.customer_balance(ctx.db, customer_id=_member(ctx, number), now=ctx.now)


def history(ctx: OpContext, number: int) -> object:
    return points.customer_history(ctx.db, customer_id=_member(ctx, number), limit=20, cursor=None)


def email_search(ctx: OpContext, number: int) -> object:
    email = synthetic_email(ctx.seed, number)
    return customers.find_by_email(ctx.db, secrets=ctx.secrets, email=email)


def consent_check(ctx: OpContext, number: int) -> object:
    with ctx.db.read() as session:
        return consent.has_consent_txn(
            session=session, customer_id=_member(ctx, number), purpose=consent.PARTNER_TRANSFERS
        )


def access_export(ctx: OpContext, number: int) -> object:
    with ctx.db.read() as session:
        return collect_sections_txn(
            session=session, secrets=ctx.secrets, customer_id=_member(ctx, number)
        )


#: (key, label, function), in the order they run (earn before redeem).
OPERATIONS: tuple[tuple[str, str, Operation], ...] = (
    ("earn", "earn", earn),
    ("redeem", "redeem", redeem),
    ("balance", "balance", balance),
    ("history", "history page (20)", history),
    ("email_search", "find by email", email_search),
    ("consent_check", "consent check", consent_check),
    ("access_export", "access export (one member)", access_export),
)


@dataclass(frozen=True)
class OpResult:
    key: str
    label: str
    samples: int
    p50_ms: float
    p99_ms: float
    mean_ms: float
    #: Large tables the operation read without an index (PostgreSQL), by name.
    scanned: tuple[str, ...]


def _table_counters(session: Session) -> dict[str, tuple[int, int]]:
    """table -> (sequential scans, live rows) from PostgreSQL's statistics."""
    sql = raw(session)
    sql.execute("SELECT pg_stat_clear_snapshot()")
    rows = sql.all("SELECT relname, seq_scan, n_live_tup FROM pg_stat_user_tables")
    return {str(r[0]): (int(r[1] or 0), int(r[2] or 0)) for r in rows}


def table_scans(db: Database) -> dict[str, tuple[int, int]]:
    if db.is_sqlite:
        return {}
    # Backends report their counters when idle, within a second (PostgreSQL 15+).
    time.sleep(1.2)
    with db.read() as session:
        return _table_counters(session)


def scanned_tables(
    before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]
) -> list[str]:
    return sorted(
        name
        for name, (scans, rows) in after.items()
        if rows >= SCAN_THRESHOLD_ROWS and scans > before.get(name, (0, 0))[0]
    )


def time_operation(
    ctx: OpContext, key: str, label: str, operation: Operation, *, samples: int, warmup: int
) -> OpResult:
    """``samples`` timed calls (after ``warmup`` untimed ones), each on a random member."""
    # Redemptions go to the members the earn samples just credited.
    rng = random.Random(f"bench-scale:{'earn' if key == 'redeem' else key}")
    pick = [rng.randrange(ctx.customers) for _ in range(warmup + samples)]
    for number in pick[:warmup]:
        operation(ctx, number)
    before = table_scans(ctx.db)
    timings: list[float] = []
    for number in pick[warmup:]:
        started = time.perf_counter()
        operation(ctx, number)
        timings.append((time.perf_counter() - started) * 1000)
    scanned = scanned_tables(before, table_scans(ctx.db))
    timings.sort()
    return OpResult(
        key,
        label,
        samples,
        percentile(timings, 0.50),
        percentile(timings, 0.99),
        sum(timings) / len(timings),
        tuple(scanned),
    )
