"""Health, readiness, metrics and the OpenAPI document."""

from __future__ import annotations

from sqlalchemy import text
from starlette.routing import Route
from starlette.testclient import TestClient

from node.db import Database
from tests.node.conftest import Operator


def test_health_and_readiness(client: TestClient, db: Database) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready", "node_id": "cafe"}
    with db.transaction() as session:
        session.execute(text("UPDATE alembic_version SET version_num = 'ffff'"))
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "newer than this Konsort understands" in response.json()["reason"]


def test_openapi_covers_every_route(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert document["openapi"] == "3.1.0"
    declared = {
        (method.lower(), route.path)
        for route in client.app.routes  # type: ignore[attr-defined]
        if isinstance(route, Route)
        for method in (route.methods or set()) - {"HEAD"}
    }
    documented = {(m, path) for path, ops in document["paths"].items() for m in ops}
    assert declared == documented
    purchase = document["paths"]["/api/v1/customers/{id}/purchases"]["post"]
    assert {"201", "401", "409", "422"} <= set(purchase["responses"])
    assert any(p["name"] == "Idempotency-Key" for p in purchase["parameters"])


def test_metrics_count_requests_by_route_template(operator: Operator, client: TestClient) -> None:
    customer = operator.enrol()
    operator.earn(customer, 100)
    text_body = client.get("/metrics").text
    assert (
        'konsort_http_requests_total{method="POST",route="/api/v1/customers/{id}/purchases",'
        'status="201"} 1.0' in text_body
    )
    assert customer not in text_body
    assert 'konsort_ledger_transactions_total{kind="earn"} 1.0' in text_body
