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
=================  ==================================  ================================

Every job is safe to run at any time and any number of times: each unit of
work is idempotent in the database (a lot expires once, a review moves its
due date, a bonus has a once-only row), so a crash mid-run or two processes
running the same job changes nothing twice. A failed run is logged and tried
again at the next interval. The first run of each job is right after start-up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
from starlette.concurrency import run_in_threadpool

from node.context import NodeContext
from node.services.bonuses import award_birthday_bonuses
from node.services.expiry_warnings import warn_expiring_points
from node.services.federation_handlers import ANSWER_HANDLERS
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


def node_jobs(node: NodeContext, *, http: httpx.AsyncClient) -> list[Job]:
    """The jobs this node runs, with those whose interval is 0 left out."""
    settings = node.settings
    jobs = [
        Job("expiry", settings.expiry_interval_seconds, expire_points),
        Job("program", settings.program_jobs_interval_seconds, run_program_jobs),
        Job("webhooks", settings.webhook_interval_seconds, webhook_job(http)),
        Job("federation", settings.federation_interval_seconds, federation_job(http)),
        Job("retention", settings.retention_interval_seconds, run_retention_policies),
        Job("settlement", settings.settlement_interval_seconds, send_settlement_statements),
    ]
    return [job for job in jobs if job.interval_seconds > 0]


async def run_periodically(node: NodeContext, job: Job) -> None:
    while True:
        try:
            await job.run(node)
        except Exception:
            log.exception("job failed; will try again", extra={"job": job.name})
        await asyncio.sleep(job.interval_seconds)
