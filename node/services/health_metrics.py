"""The gauges an operator alerts on (docs/alerts.yml), refreshed by jobs in every process.

Two jobs (node.jobs) keep them current. ``health`` reads a few counts every
``health_metrics_interval_seconds``: the outbox backlog per destination and
the age of its oldest message, messages being retried, webhook deliveries
that failed for good, data-subject requests open past their due date and
settlement periods in dispute. ``ledger-verify`` runs the full ledger check
every ``ledger_verify_interval_seconds`` and publishes the number of
violations and the time of the run.

Both run in every process (they are not exclusive): a scrape through a load
balancer reaches any process and finds the same database-wide numbers. The
ledger check is a full read; its interval keeps the cost low.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from node.db import Database
from node.metrics import Metrics
from node.services.verification import verify_ledger
from node.store import health as store


@dataclass(frozen=True)
class HealthSnapshot:
    outbox: list[store.OutboxBacklog] = field(default_factory=list)
    failed_webhook_deliveries: int = 0
    overdue_subject_requests: int = 0
    disputed_settlement_periods: int = 0


def read_health(db: Database, *, now: datetime) -> HealthSnapshot:
    """The counts behind the alerting gauges, from one snapshot of the database."""
    with db.read() as session:
        return HealthSnapshot(
            outbox=store.outbox_backlog(session=session),
            failed_webhook_deliveries=store.failed_webhook_deliveries(session=session),
            overdue_subject_requests=store.overdue_subject_requests(session=session, now=now),
            disputed_settlement_periods=store.disputed_settlement_periods(session=session),
        )


def refresh_health_gauges(db: Database, metrics: Metrics, *, now: datetime) -> HealthSnapshot:
    """Read the counts and set the gauges; a destination with no backlog reads 0."""
    snapshot = read_health(db, now=now)
    metrics.set_outbox_backlog(
        {
            row.destination: (
                row.pending,
                row.retrying,
                max(0.0, (now - row.oldest_created_at).total_seconds()),
            )
            for row in snapshot.outbox
        }
    )
    metrics.webhook_deliveries_failed.set(snapshot.failed_webhook_deliveries)
    metrics.subject_requests_overdue.set(snapshot.overdue_subject_requests)
    metrics.settlement_periods_disputed.set(snapshot.disputed_settlement_periods)
    metrics.health_refreshed.set(now.timestamp())
    return snapshot


def verify_ledger_for_metrics(db: Database, metrics: Metrics, *, now: datetime) -> int:
    """Run the ledger check, publish its result; the number of violations."""
    report = verify_ledger(db)
    metrics.ledger_verify_violations.set(len(report.violations))
    metrics.ledger_verify_last_run.set(now.timestamp())
    return len(report.violations)
