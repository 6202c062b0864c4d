"""Two processes of one node on one PostgreSQL (docs/operations.md, "Scaling out").

Both serve the API (a write through one is read through the other); both
outbox workers deliver to a partner and no message is sent twice; the
scheduled jobs run once per due time, never in two processes at once: the
retention job (its runs are rows), the expiry job (due points expire once)
and the settlement job (one statement per partner and closed period), and
each exclusive job (the webhook sender too) counted once per due time across
both processes' metrics; an
admin UI session started through one process works through the other.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from node.clock import SystemClock
from node.db import Database
from node.secrets import NodeSecrets
from node.services import staff
from node.store.federation_models import InboxMessage, OutboxMessage
from node.store.retention_models import RetentionRun
from node.store.settlement_models import SettlementPeriodRecord
from tests.conftest import PG_ENV, PostgresDatabases
from tests.node.federation.faults import FaultNode, Person, Till, link_people, wait_delivered
from tests.node.scale.cluster import serving, set_up_cluster

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(PG_ENV not in os.environ, reason=f"needs PostgreSQL ({PG_ENV})"),
]

RETENTION_INTERVAL = 2
#: The expiry, settlement and webhook jobs run every second in both cafe processes.
JOB_INTERVAL = 1
#: Settlement states periods that closed a week ago: the test moves the
#: clearing entries (both sides alike) eight days back, as if time had passed.
EIGHT_DAYS = 8 * 86_400
TRANSFERS = 24
STAFF_PASSWORD = "correct horse battery staple"


def _person(tills: list[Till]) -> Person:
    """A member with an account at cafe and at bookshop, funded at cafe."""
    till = tills[0]
    accounts, tokens = {}, {}
    for node_id in ("cafe", "bookshop"):
        enrolled = till.call(node_id, "POST", "/api/v1/customers",
                             json_body={"consents": {"partner_transfers": True}},
                             key=str(uuid.uuid4()))  # fmt: skip
        accounts[node_id] = str(till.expect(201, enrolled)["id"])
        minted = till.call(node_id, "POST", f"/api/v1/customers/{accounts[node_id]}/tokens")
        tokens[node_id] = till.expect(201, minted)["token"]
    bought = till.call("cafe", "POST", f"/api/v1/customers/{accounts['cafe']}/purchases",
                       json_body={"amount": 100_000}, key=str(uuid.uuid4()))  # fmt: skip
    till.expect(201, bought)
    return Person(accounts, tokens)


def test_two_processes_share_the_api_the_outbox_and_the_jobs(
    tmp_path: Path, postgres: PostgresDatabases | None
) -> None:
    assert postgres is not None
    database_url = postgres.url_for(postgres.create())
    cluster = set_up_cluster(
        tmp_path,
        database_url,
        KONSORT_RETENTION_INTERVAL_SECONDS=str(RETENTION_INTERVAL),
        KONSORT_EXPIRY_INTERVAL_SECONDS=str(JOB_INTERVAL),
        KONSORT_SETTLEMENT_INTERVAL_SECONDS=str(JOB_INTERVAL),
        KONSORT_WEBHOOK_INTERVAL_SECONDS=str(JOB_INTERVAL),
    )
    a, b = cluster.cafe
    tills = [Till({"cafe": process, "bookshop": cluster.bookshop}) for process in (a, b)]
    with serving(cluster.processes):
        # Both serve the API: written through A, read through B, and back.
        person = _person(tills)
        balance = f"/api/v1/customers/{person.accounts['cafe']}/balance"
        assert tills[1].expect(200, tills[1].call("cafe", "GET", balance))["points"] > 0
        link_people(tills[1], [person])

        # Both processes' outbox workers deliver: transfers entered through both.
        for n in range(TRANSFERS):
            till = tills[n % 2]
            sent = till.call("cafe", "POST", "/api/v1/me/transfers",
                             json_body={"partner": "bookshop", "points": 10},
                             token=person.tokens["cafe"], key=str(uuid.uuid4()))  # fmt: skip
            till.expect(202, sent)
        wait_delivered(tills[0], timeout=60)
        wait_delivered(tills[1], timeout=60)
        started_jobs = SystemClock().now()
        runs_before = [_job_runs(process.url) for process in (a, b)]
        # Time passes: the member's points fall due, the transfers' period closes.
        due = _points_fall_due(database_url)
        assert due > 0
        _close_the_period(database_url, cluster.bookshop.directory / "konsort.db")
        _wait_for(lambda: _expired(database_url) == due, "the due points to expire")
        _wait_for(lambda: _periods_agreed(database_url), "the closed period to be agreed")
        # Let the retention job come due a few times in both processes.
        _wait_for_scheduled_runs(database_url, after=started_jobs, count=3)
        finished_jobs = SystemClock().now()
        runs_after = [_job_runs(process.url) for process in (a, b)]
        received = _federation_posts(cluster.bookshop.url)

        for till in tills:
            till.client.close()

        # The admin session works whichever process answers: signed in through
        # A, used through B (the session row lives in PostgreSQL).
        _admin_session_through_both(database_url, a, b)

    # Each exclusive job ran once per due time: the two processes' runs add up
    # to the due times that passed (give or take the one at each end of the
    # window), not to twice as many.
    window = (finished_jobs - started_jobs).total_seconds()
    for job, interval in (
        ("expiry", JOB_INTERVAL),
        ("settlement", JOB_INTERVAL),
        ("webhooks", JOB_INTERVAL),
    ):
        runs = sum(
            after.get(job, 0) - before.get(job, 0)
            for before, after in zip(runs_before, runs_after, strict=True)
        )
        due_times = window / interval
        assert due_times - 2 <= runs <= due_times + 2, (job, runs, due_times)

    db = Database(database_url)
    try:
        with db.read() as session:
            # Due points expired once, though both processes ran the job.
            assert _expired(database_url) == due
            lots = session.execute(text("SELECT count(*) FROM point_lot WHERE remaining > 0")).one()
            assert lots[0] == 0
            statements = session.execute(
                select(OutboxMessage.destination, OutboxMessage.token).where(
                    OutboxMessage.message_type == "settlement.statement"  # type: ignore[arg-type]
                )
            ).all()
            periods = session.execute(
                select(
                    SettlementPeriodRecord.peer,
                    SettlementPeriodRecord.period_start,
                    SettlementPeriodRecord.status,
                )
            ).all()
            outbox = session.execute(
                select(
                    OutboxMessage.message_id, OutboxMessage.status, OutboxMessage.attempts
                ).where(OutboxMessage.destination == "bookshop")  # type: ignore[arg-type]
            ).all()
            runs = session.execute(
                select(RetentionRun.started_at, RetentionRun.finished_at)
                .where(RetentionRun.trigger == "schedule")  # type: ignore[arg-type]
                .order_by(RetentionRun.started_at)  # type: ignore[arg-type]
            ).all()
    finally:
        db.dispose()
    bookshop = Database(f"sqlite:///{cluster.bookshop.directory / 'konsort.db'}")
    try:
        with bookshop.read() as session:
            inbox = (
                session.execute(
                    select(InboxMessage.message_id).where(InboxMessage.issuer == "cafe")  # type: ignore[arg-type]
                )
                .scalars()
                .all()
            )
    finally:
        bookshop.dispose()

    # Every message sent (requests folded into a batch are not sent on their
    # own) was answered, sent once (one attempt), received once.
    sent = [row for row in outbox if row.status != "batched"]
    assert len(sent) >= 2
    assert {row.status for row in sent} == {"answered"}
    assert Counter(row.attempts for row in sent) == {0: len(sent)}  # no failed attempt
    assert received == len(sent)  # the partner was sent each message once
    assert sorted(inbox) == sorted(row.message_id for row in sent)

    # The retention job: never two runs at once, at most one per due time.
    assert all(finished is not None for _, finished in runs)
    for (_, finished), (next_start, _) in zip(runs, runs[1:], strict=False):
        assert finished <= next_start, "two scheduled runs overlapped"
    scheduled = [start for start, _ in runs if start >= started_jobs]
    per_due_time = Counter(int(start.timestamp()) // RETENTION_INTERVAL for start in scheduled)
    assert len(scheduled) >= 3
    assert max(per_due_time.values()) == 1, per_due_time

    # The settlement job: one statement per partner and closed period, agreed.
    assert periods and {status for _, _, status in periods} == {"agreed"}
    assert len({(peer, start) for peer, start, _ in periods}) == len(periods)
    assert len(statements) == len(periods)
    assert {destination for destination, _ in statements} == {"bookshop"}


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:.0f} s for {what}")
        time.sleep(0.2)


def _sql(database_url: str, statement: str) -> list[Any]:
    db = Database(database_url)
    try:
        with db.transaction() as session:
            result = session.execute(text(statement))
            return list(result.all()) if result.returns_rows else []
    finally:
        db.dispose()


def _points_fall_due(database_url: str) -> int:
    """Every lot with points left expires an hour ago; the points that fall due."""
    rows = _sql(
        database_url,
        "UPDATE point_lot SET expires_at = now() - interval '1 hour'"
        " WHERE remaining > 0 RETURNING remaining",
    )
    return sum(int(row[0]) for row in rows)


def _expired(database_url: str) -> int:
    rows = _sql(
        database_url,
        "SELECT coalesce(-sum(points), 0) FROM ledger_transaction WHERE kind = 'expire'",
    )
    return int(rows[0][0])


def _close_the_period(database_url: str, partner_sqlite: Path) -> None:
    """Move both sides' clearing entries eight days back, alike."""
    moved = f"UPDATE clearing_entry SET request_iat = request_iat - {EIGHT_DAYS}"
    _sql(database_url, moved)
    with sqlite3.connect(partner_sqlite, timeout=30) as connection:
        connection.execute(moved)


def _periods_agreed(database_url: str) -> bool:
    rows = _sql(database_url, "SELECT status FROM settlement_period")
    return bool(rows) and all(row[0] == "agreed" for row in rows)


_RUNS = re.compile(r'^konsort_job_runs_total\{job="([a-z-]+)",outcome="ok"\} (\S+)$', re.M)


def _job_runs(url: str) -> dict[str, int]:
    """Runs of each job by one process, from its /metrics."""
    found = _RUNS.findall(httpx.get(f"{url}/metrics", timeout=10).text)
    return {job: int(float(count)) for job, count in found}


def _federation_posts(url: str) -> int:
    """Protocol messages a node received over HTTP, from its /metrics."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith("konsort_http_requests_total{") and (
            'route="/federation/v1/messages"' in line and 'method="POST"' in line
        ):
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


def _wait_for_scheduled_runs(database_url: str, *, after: datetime, count: int) -> None:
    db = Database(database_url)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with db.read() as session:
                found = session.execute(
                    select(RetentionRun.id).where(
                        RetentionRun.trigger == "schedule",  # type: ignore[arg-type]
                        RetentionRun.started_at >= after,  # type: ignore[arg-type,operator]
                    )
                ).all()
            if len(found) >= count:
                return
            time.sleep(0.2)
        raise AssertionError(f"fewer than {count} scheduled retention runs in 60 s")
    finally:
        db.dispose()


def _admin_session_through_both(database_url: str, a: FaultNode, b: FaultNode) -> None:
    db = Database(database_url)
    try:
        staff.create_user(
            db,
            node_secrets=NodeSecrets.load(a.directory / "keys"),
            username="ops",
            display_name="Ops",
            role="operator",
            password=STAFF_PASSWORD,
            totp=False,
            now=SystemClock().now(),
        )
    finally:
        db.dispose()
    signed_in = httpx.post(
        f"{a.url}/admin/login",
        data={"username": "ops", "password": STAFF_PASSWORD},
        headers={"Origin": a.url},
        follow_redirects=False,
    )
    assert signed_in.status_code == 303, signed_in.text
    cookie = signed_in.cookies.get("konsort_staff")
    assert cookie
    through_b = httpx.get(
        f"{b.url}/admin/", cookies={"konsort_staff": cookie}, follow_redirects=False
    )
    assert through_b.status_code == 200, through_b.text
    assert 'action="' in through_b.text and "ops" in through_b.text.lower()
    anonymous = httpx.get(f"{b.url}/admin/", follow_redirects=False)
    assert anonymous.status_code in (302, 303)
