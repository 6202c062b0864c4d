"""Prometheus metrics, one registry per app (so several nodes can share a process)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self.requests = Counter(
            "konsort_http_requests",
            "HTTP requests answered, by route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "konsort_http_request_duration_seconds",
            "Time to answer an HTTP request.",
            ["method", "route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=self.registry,
        )
        self.ledger_transactions = Counter(
            "konsort_ledger_transactions",
            "Ledger transactions written, by kind.",
            ["kind"],
            registry=self.registry,
        )
        self.expired_points = Counter(
            "konsort_expired_points",
            "Points expired by the expiry job.",
            registry=self.registry,
        )
        # Alerting gauges (node.services.health_metrics, docs/alerts.yml).
        self.outbox_pending = Gauge(
            "konsort_outbox_pending_messages",
            "Protocol messages waiting for an answer, by destination.",
            ["destination"],
            registry=self.registry,
        )
        self.outbox_retrying = Gauge(
            "konsort_outbox_retrying_messages",
            "Pending protocol messages whose last delivery attempt failed, by destination.",
            ["destination"],
            registry=self.registry,
        )
        self.outbox_oldest_age = Gauge(
            "konsort_outbox_oldest_pending_age_seconds",
            "Age of the oldest pending protocol message, by destination.",
            ["destination"],
            registry=self.registry,
        )
        self.webhook_deliveries_failed = Gauge(
            "konsort_webhook_deliveries_failed",
            "Webhook deliveries that failed for good.",
            registry=self.registry,
        )
        self.subject_requests_overdue = Gauge(
            "konsort_subject_requests_overdue",
            "Data-subject requests still open past their due date.",
            registry=self.registry,
        )
        self.settlement_periods_disputed = Gauge(
            "konsort_settlement_periods_disputed",
            "Settlement periods a partner disputed.",
            registry=self.registry,
        )
        self.health_refreshed = Gauge(
            "konsort_health_refreshed_timestamp_seconds",
            "When this process last refreshed the alerting gauges (Unix time).",
            registry=self.registry,
        )
        self.ledger_verify_violations = Gauge(
            "konsort_ledger_verify_violations",
            "Ledger invariant violations found by the last verification.",
            registry=self.registry,
        )
        self.ledger_verify_last_run = Gauge(
            "konsort_ledger_verify_last_run_timestamp_seconds",
            "When this process last verified the ledger (Unix time).",
            registry=self.registry,
        )
        self.job_runs = Counter(
            "konsort_job_runs",
            "Background job runs by this process, by job and outcome (ok or failed); "
            "an exclusive job that another process holds is not counted.",
            ["job", "outcome"],
            registry=self.registry,
        )
        self.job_last_success = Gauge(
            "konsort_job_last_success_timestamp_seconds",
            "When this process last finished a run of the job without error (Unix time).",
            ["job"],
            registry=self.registry,
        )
        self._destinations: set[str] = set()

    def set_outbox_backlog(self, backlog: dict[str, tuple[int, int, float]]) -> None:
        """Per destination (pending, retrying, oldest age); destinations now empty read 0."""
        for destination in self._destinations - backlog.keys():
            backlog[destination] = (0, 0, 0.0)
        for destination, (pending, retrying, age) in backlog.items():
            self.outbox_pending.labels(destination).set(pending)
            self.outbox_retrying.labels(destination).set(retrying)
            self.outbox_oldest_age.labels(destination).set(age)
        self._destinations |= backlog.keys()

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request (label children cached: this runs per request)."""
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(method, route),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
