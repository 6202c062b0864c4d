"""docs/alerts.yml loads as Prometheus rules over metrics the node serves; the gauges count."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from starlette.testclient import TestClient

from node.clock import ManualClock
from node.db import Database
from node.services.health_metrics import refresh_health_gauges, verify_ledger_for_metrics
from tests.node.conftest import Operator

ALERTS = Path(__file__).resolve().parents[3] / "docs" / "alerts.yml"
METRIC = re.compile(r"\b(konsort_[a-z_]+)")


def _rules() -> list[dict[str, Any]]:
    loaded = yaml.safe_load(ALERTS.read_text())
    return [rule for group in loaded["groups"] for rule in group["rules"]]


def _served_names(text: str) -> set[str]:
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            name, kind = line.split()[2:4]
            names.add(name)
            if kind == "counter":
                names.add(f"{name}_total")
            if kind == "histogram":
                names.update(f"{name}_{part}" for part in ("bucket", "sum", "count"))
    return names


def test_the_rules_file_has_the_prometheus_shape() -> None:
    loaded = yaml.safe_load(ALERTS.read_text())
    assert set(loaded) == {"groups"}
    rules = _rules()
    assert rules
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
        assert rule["alert"] and rule["expr"] and rule["annotations"]["summary"]
        assert rule["labels"]["severity"] in {"page", "warning"}
    assert len({rule["alert"] for rule in rules}) == len(rules)


def test_every_metric_an_alert_names_is_served(
    client: TestClient, operator: Operator, db: Database, clock: ManualClock
) -> None:
    operator.enrol()  # a request, so the request counters have a series
    node = client.app.state.node  # type: ignore[attr-defined]
    refresh_health_gauges(db, node.metrics, now=clock.now())
    verify_ledger_for_metrics(db, node.metrics, now=clock.now())
    served = _served_names(client.get("/metrics").text)
    named = {name for rule in _rules() for name in METRIC.findall(rule["expr"])}
    assert {
        "konsort_outbox_oldest_pending_age_seconds",
        "konsort_subject_requests_overdue",
        "konsort_settlement_periods_disputed",
        "konsort_ledger_verify_violations",
        "konsort_webhook_deliveries_failed",
    } <= named
    assert named - served == set()


def _sample(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in /metrics")


def test_an_overdue_subject_request_and_a_clean_ledger_show_in_the_gauges(
    client: TestClient, operator: Operator, db: Database, clock: ManualClock
) -> None:
    node = client.app.state.node  # type: ignore[attr-defined]
    customer = operator.enrol()
    assert operator.earn(customer, 100).status_code == 201
    filed = operator.post(
        "/api/v1/privacy/requests",
        {"customer_id": customer, "type": "access", "channel": "email"},
    )
    assert filed.status_code == 201, filed.text
    refresh_health_gauges(db, node.metrics, now=clock.now())
    verify_ledger_for_metrics(db, node.metrics, now=clock.now())
    text = client.get("/metrics").text
    assert _sample(text, "konsort_subject_requests_overdue") == 0
    assert _sample(text, "konsort_ledger_verify_violations") == 0

    clock.advance(timedelta(days=120))  # past any due date, extensions included
    refresh_health_gauges(db, node.metrics, now=clock.now())
    assert _sample(client.get("/metrics").text, "konsort_subject_requests_overdue") == 1
