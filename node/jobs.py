"""The node's background jobs: each runs on its own interval inside the node process.

=================  ==================================  ================================
job                interval setting                    what it does
=================  ==================================  ================================
expiry             ``expiry_interval_seconds``         expires points past their date
program            ``program_jobs_interval_seconds``   reviews due tiers, pays birthday
                                                       bonuses, announces points that
                                                       expire soon (``points.expiring``),
                                                       moves paid memberships (renewal
                                                       notices, grace, lapses), issues
                                                       time-based personalised offers
webhooks           ``webhook_interval_seconds``        fans events out and sends the
                                                       deliveries that are due
federation         ``federation_interval_seconds``     delivers queued protocol messages
                                                       to peers, applies their answers
retention          ``retention_interval_seconds``      runs the retention policies
                                                       (node.services.retention)
settlement         ``settlement_interval_seconds``     states each closed settlement
                                                       period to each partner, once
                                                       (node.services.settlement_schedule)
health             ``health_metrics_interval_seconds`` refreshes the alerting gauges
                                                       (node.services.health_metrics)
ledger-verify      ``ledger_verify_interval_seconds``  verifies the ledger, publishes
                                                       the result as a gauge
=================  ==================================  ================================

Every job is safe to run at any time and any number of times: each unit of
work is idempotent in the database (a lot expires once, a review moves its
due date, a bonus has a once-only row), so a crash mid-run or two processes
running the same job changes nothing twice. A failed run is logged and tried
again at the next interval. The first run of each job is right after start-up.

Several processes of one node (docs/operations.md, "Scaling out"): after the
first run, runs fall on due times, the multiples of the interval on the
clock, so every process wakes for the same due time. An *exclusive* job
takes its lock (node.locks) for the run and keeps it at least half an
interval past the due time, so of the processes that wake for one due time
one runs the job and the others skip it: a job runs once per due time. The
federation job is shared instead: every process delivers, and the outbox's
lease with ``SKIP LOCKED`` gives each message to one of them.

Shutdown (:func:`run_periodically` with ``stopping``): a job is never cut
between rounds; the lifespan sets ``stopping`` after the last request is
answered, lets a running round finish (up to ``shutdown_grace_seconds``) and
only then cancels. A delivery cut even so is simply sent again after the
restart; the receiver's inbox answers a repeat with its stored answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
from starlette.concurrency import run_in_threadpool

from node.context import NodeContext
from node.locks import JobLocks
from node.services.bonuses import award_birthday_bonuses
from node.services.expiry_warnings import warn_expiring_points
from node.services.federation_handlers import ANSWER_HANDLERS
from node.services.health_metrics import refresh_health_gauges, verify_ledger_for_metrics
from node.services.ledger import expire_due_points
from node.services.memberships import advance_memberships
from node.services.offers import issue_scheduled_offers
from node.services.outbox import deliver_outbox
from node.services.retention import run_retention
from node.services.settlement_schedule import send_due_statements
from node.services.tiers import review_tiers
from node.services.webhook_delivery import deliver_webhooks

#: Deliveries claimed per round; a full round is followed by another at once.
WEBHOOK_BATCH = 100

log = logging.getLogger("konsort.jobs")


@dataclass(frozen=True)
class Job:
    name: str
    interval_seconds: float
    run: Callable[[NodeContext], Awaitable[None]]
    #: One process at a time (node.locks); False: every process runs it (shared work).
    exclusive: bool = True


async def expire_points(node: NodeContext) -> None:
    report = await run_in_threadpool(expire_due_points, node.db, now=node.clock.now())
    if report.points:
        node.metrics.expired_points.inc(report.points)
        log.info("points expired", extra={"customers": report.customers, "points": report.points})


async def run_program_jobs(node: NodeContext) -> None:
    now = node.clock.now()
    reviewed = await run_in_threadpool(review_tiers, node.db, node.settings, now=now)
    if reviewed.reviewed:
        log.info(
            "tiers reviewed",
            extra={
                "reviewed": reviewed.reviewed,
                "up": reviewed.up,
                "down": reviewed.down,
                "grace": reviewed.grace,
            },
        )
    birthdays = await run_in_threadpool(
        award_birthday_bonuses, node.db, node.settings, node.secrets, now=now
    )
    if birthdays.members:
        log.info(
            "birthday bonuses paid",
            extra={"customers": birthdays.members, "points": birthdays.points},
        )
    await run_membership_job(node)
    offered = await run_in_threadpool(
        issue_scheduled_offers, node.db, node.settings, node.secrets, now=now
    )
    if offered.issued:
        log.info("offers issued", extra={"customers": offered.customers, "offers": offered.issued})
    warned = await run_in_threadpool(warn_expiring_points, node.db, node.settings, now=now)
    if warned.customers:
        log.info(
            "points expiring soon announced",
            extra={"customers": warned.customers, "points": warned.points},
        )


async def run_membership_job(node: NodeContext) -> None:
    report = await run_in_threadpool(
        advance_memberships, node.db, node.settings, now=node.clock.now()
    )
    if report.notices or report.moved:
        log.info("memberships advanced", extra={"notices": report.notices, "moved": report.moved})


def webhook_job(client: httpx.AsyncClient) -> Callable[[NodeContext], Awaitable[None]]:
    async def send_webhooks(node: NodeContext) -> None:
        while True:
            report = await deliver_webhooks(
                node.db, node.secrets, client=client, now=node.clock.now(), limit=WEBHOOK_BATCH
            )
            if report.failed:
                log.warning("webhook deliveries failed for good", extra={"failed": report.failed})
            if report.attempted < WEBHOOK_BATCH:
                return

    return send_webhooks


#: Messages sent per federation round; a full round is followed by another at once.
FEDERATION_BATCH = 200


def federation_job(client: httpx.AsyncClient) -> Callable[[NodeContext], Awaitable[None]]:
    async def deliver_messages(node: NodeContext) -> None:
        while True:
            report = await deliver_outbox(
                node.db,
                node.federation,
                client=client,
                clock=node.clock,
                answer_handlers=ANSWER_HANDLERS,
                limit=FEDERATION_BATCH,
            )
            if report.attempted < FEDERATION_BATCH:
                return

    return deliver_messages


async def run_retention_policies(node: NodeContext) -> None:
    await run_in_threadpool(
        run_retention,
        node.db,
        node.settings,
        clock=node.clock,
        dry_run=False,
        trigger="schedule",
        actor="system",
        fed=node.federation,
    )


async def send_settlement_statements(node: NodeContext) -> None:
    report = await run_in_threadpool(
        send_due_statements,
        node.db,
        node.federation,
        period_seconds=node.settings.settlement_period_seconds,
        now=node.clock.now(),
    )
    if report.stated:
        log.info("settlement statements queued", extra={"periods": len(report.stated)})


async def refresh_health(node: NodeContext) -> None:
    await run_in_threadpool(refresh_health_gauges, node.db, node.metrics, now=node.clock.now())


async def verify_ledger_job(node: NodeContext) -> None:
    violations = await run_in_threadpool(
        verify_ledger_for_metrics, node.db, node.metrics, now=node.clock.now()
    )
    if violations:
        log.error("ledger verification found violations", extra={"violations": violations})


def node_jobs(node: NodeContext, *, http: httpx.AsyncClient) -> list[Job]:
    """The jobs this node runs, with those whose interval is 0 left out."""
    settings = node.settings
    jobs = [
        Job("expiry", settings.expiry_interval_seconds, expire_points),
        Job("program", settings.program_jobs_interval_seconds, run_program_jobs),
        Job("webhooks", settings.webhook_interval_seconds, webhook_job(http)),
        Job(
            "federation",
            settings.federation_interval_seconds,
            federation_job(http),
            exclusive=False,
        ),
        Job("retention", settings.retention_interval_seconds, run_retention_policies),
        Job("settlement", settings.settlement_interval_seconds, send_settlement_statements),
        Job("health", settings.health_metrics_interval_seconds, refresh_health, exclusive=False),
        Job(
            "ledger-verify",
            settings.ledger_verify_interval_seconds,
            verify_ledger_job,
            exclusive=False,
        ),
    ]
    return [job for job in jobs if job.interval_seconds > 0]


def next_due_in(node: NodeContext, interval_seconds: float) -> float:
    """Seconds until the next due time: the next multiple of the interval on the clock."""
    now = node.clock.now().timestamp()
    return interval_seconds - (now % interval_seconds)


async def _run_once(node: NodeContext, job: Job) -> None:
    try:
        await job.run(node)
    except Exception:
        node.metrics.job_runs.labels(job.name, "failed").inc()
        log.exception("job failed; will try again", extra={"job": job.name})
    else:
        node.metrics.job_runs.labels(job.name, "ok").inc()
        node.metrics.job_last_success.labels(job.name).set(node.clock.now().timestamp())


async def _wait(seconds: float, stopping: asyncio.Event | None) -> None:
    if stopping is None:
        await asyncio.sleep(seconds)
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stopping.wait(), timeout=seconds)


async def run_periodically(
    node: NodeContext,
    job: Job,
    *,
    locks: JobLocks | None = None,
    stopping: asyncio.Event | None = None,
) -> None:
    """Run ``job`` now and then at each due time until ``stopping`` is set (or cancelled)."""
    locks = locks or JobLocks(node.db)
    first = True
    while stopping is None or not stopping.is_set():
        if not job.exclusive:
            await _run_once(node, job)
        else:
            # Held from the due time to at least half an interval past it, so
            # a process waking late for the same due time finds it taken.
            hold_until = asyncio.get_running_loop().time() + job.interval_seconds / 2
            async with locks.hold_async(job.name) as held:
                if held:
                    await _run_once(node, job)
                    if not first:
                        remaining = hold_until - asyncio.get_running_loop().time()
                        if remaining > 0:
                            await _wait(remaining, stopping)
                else:
                    log.debug("job runs in another process", extra={"job": job.name})
        first = False
        if stopping is not None and stopping.is_set():
            return
        await _wait(next_due_in(node, job.interval_seconds), stopping)
