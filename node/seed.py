"""Fill an empty dev or demo node with made-up members: `konsort dev seed`.

What it writes is what the real services would have written for those
members (node.seed_rows lists it table by table): sealed profiles under the
node's own keys, keyed email digests, consent records against the published
wording, balanced ledger transactions with their lots, purchases,
redemptions and partner links with pairwise pseudonyms. So `konsort ledger
verify`, the KPI report, retention runs, exports and the admin UI all work
on a seeded node as on a real one, which is what makes it useful for
demos and for measuring the node at scale (bench/scale.py).

Speed: members are made in batches, each batch one transaction written with
COPY on PostgreSQL and executemany on SQLite, the next batch made while one
is written. It refuses a node that already
has members (seeding never mixes made-up members with real ones), and a node
whose program changed during the seeded history (apply programs after
seeding). Webhook events are not written: nobody subscribed to a seeded past.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from node.db import Database
from node.errors import Conflict, ValidationFailed
from node.progress import Progress
from node.secrets import NodeSecrets
from node.seed_copy import (
    analyze_txn,
    customer_count_txn,
    next_ids_txn,
    sqlite_time,
    write_batch_txn,
)
from node.seed_people import synthetic_email, synthetic_member
from node.seed_rows import HISTORY_DAYS, TABLES, Batch, SeedContext, member_rows
from node.services import ledger
from node.services.consent_purposes import CONTRACT, purposes_txn
from node.services.program import program_at_txn
from node.settings import Settings

__all__ = ["DEFAULT_PARTNERS", "SeedReport", "seed_node", "synthetic_email"]

DEFAULT_PARTNERS = ("bookshop",)
BATCH_MEMBERS = 2_000


@dataclass(frozen=True)
class SeedReport:
    customers: int
    #: Rows written per table.
    rows: dict[str, int]
    seconds: float

    @property
    def ledger_entries(self) -> int:
        return self.rows.get("ledger_entry", 0)


def _context(
    db: Database,
    settings: Settings,
    secrets: NodeSecrets,
    *,
    now: datetime,
    partners: tuple[str, ...],
) -> tuple[SeedContext, dict[str, int]]:
    """What the members' rows depend on, checked; and the first free ids."""
    with db.transaction() as session:
        if customer_count_txn(session=session):
            raise Conflict(
                "this node already has members; seed fills an empty node only "
                "(made-up members never mix with real ones)",
                code="node_not_empty",
            )
        in_force = program_at_txn(session=session, settings=settings, moment=now)
        earliest = program_at_txn(
            session=session, settings=settings, moment=now - timedelta(days=HISTORY_DAYS)
        )
        if earliest.version != in_force.version:
            raise Conflict(
                f"the program changed within the last {HISTORY_DAYS} days; seed before "
                "applying a program (seeded purchases earn under one program version)",
                code="program_changed",
            )
        if in_force.program.cashback.basis_points:
            raise Conflict(
                "the program pays cashback; seed before turning it on (seeded purchases "
                "earn points only)",
                code="program_cashback",
            )
        purposes = {
            name: found.current.version
            for name, found in purposes_txn(session=session).items()
            if found.legal_basis != CONTRACT
        }
        issued = ledger.system_account_txn(session=session, code=ledger.ISSUED, now=now)
        redeemed = ledger.system_account_txn(session=session, code=ledger.REDEEMED, now=now)
        first_ids = next_ids_txn(session=session)
    context = SeedContext(
        secrets=secrets,
        now=now,
        program=in_force.program,
        program_version=in_force.version,
        currency=settings.currency,
        currency_exponent=settings.currency_exponent,
        issued_account=issued,
        redeemed_account=redeemed,
        purposes=purposes,
        partners=partners,
        stamp=sqlite_time if db.is_sqlite else _aware,
    )
    return context, first_ids


def _aware(moment: datetime) -> datetime:
    return moment


def _batches(
    ctx: SeedContext, *, seed: int, customers: int, size: int, ids: dict[str, int]
) -> Iterator[Batch]:
    for first in range(0, customers, size):
        batch = Batch(ids)
        for number in range(first, min(customers, first + size)):
            member_rows(batch, ctx, synthetic_member(seed, number))
        ids = batch.end_ids()
        yield batch


def seed_node(
    db: Database,
    settings: Settings,
    secrets: NodeSecrets,
    *,
    customers: int,
    now: datetime,
    seed: int = 1,
    partners: tuple[str, ...] = DEFAULT_PARTNERS,
    batch_members: int = BATCH_MEMBERS,
    progress: Progress | None = None,
) -> SeedReport:
    """Write ``customers`` made-up members (numbers 0..customers-1 of ``seed``)."""
    if customers < 1:
        raise ValidationFailed("seed at least one customer", field="customers")
    if settings.node_id in partners:
        raise ValidationFailed("a partner is another node, not this one", field="partners")
    started = time.monotonic()
    ctx, first_ids = _context(db, settings, secrets, now=now, partners=partners)
    written = dict.fromkeys(TABLES, 0)
    batches = _batches(ctx, seed=seed, customers=customers, size=batch_members, ids=first_ids)
    # The next batch is made while this one is written: the database works
    # (in its own process, or in SQLite's C code) while Python makes rows.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="seed") as maker:
        pending = maker.submit(next, batches, None)
        while (batch := pending.result()) is not None:
            pending = maker.submit(next, batches, None)
            with db.transaction() as session:
                write_batch_txn(session=session, batch=batch)
            for table in TABLES:
                written[table] += batch.count(table)
            if progress is not None:
                progress.advance(batch.count("customer"))
    with db.transaction() as session:
        analyze_txn(session=session)
    return SeedReport(customers, written, time.monotonic() - started)
