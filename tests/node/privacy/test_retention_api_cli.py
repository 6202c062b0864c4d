"""Retention through its public doors: the operator API, `konsort retention`, the job."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from node import cli_retention
from node.app import create_app
from node.cli import main
from node.clock import ManualClock
from node.db import Database
from node.jobs import node_jobs, run_retention_policies
from node.secrets import NodeSecrets
from node.settings import Settings
from tests.factories import make_customer
from tests.node.conftest import Operator

LONG_AGO = datetime(2021, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def idle_member(db: Database, secrets: NodeSecrets, clock: ManualClock) -> str:
    clock.set(LONG_AGO)
    customer_id = make_customer(db, secrets, clock, email="idle@example.com")
    clock.set(NOW)
    return customer_id


def status(db: Database, customer_id: str) -> str:
    with db.read() as session:
        return str(
            session.execute(
                text("SELECT status FROM customer WHERE id = :c"), {"c": customer_id}
            ).scalar_one()
        )


def test_policies_list_every_category(operator: Operator, clock: ManualClock) -> None:
    clock.set(NOW)
    response = operator.get("/api/v1/retention/policies")
    assert response.status_code == 200
    items = {p["category"]: p for p in response.json()["items"]}
    assert set(items) == {
        "inactive_customers",
        "withdrawn_consent",
        "subject_requests",
        "audit_log",
        "federation_messages",
        "bookkeeping_details",
    }
    assert items["inactive_customers"]["action"] == "anonymise"
    assert items["inactive_customers"]["duration"] == 1095
    assert items["bookkeeping_details"]["cutoff"] == "2021-01-01T00:00:00Z"
    assert items["audit_log"]["available"] is True


def test_a_run_over_the_api_is_idempotent_and_recorded(
    operator: Operator, db: Database, clock: ManualClock, node_secrets: NodeSecrets
) -> None:
    member = idle_member(db, node_secrets, clock)
    dry = operator.post("/api/v1/retention/runs", {"dry_run": True})
    assert dry.status_code == 201, dry.text
    inactive = next(c for c in dry.json()["categories"] if c["category"] == "inactive_customers")
    assert inactive["sample"] == [member] and inactive["applied"] == 0
    assert status(db, member) == "active"

    first = operator.post("/api/v1/retention/runs", {"dry_run": False}, key="run-1")
    assert first.status_code == 201
    assert status(db, member) == "erased"
    again = operator.post("/api/v1/retention/runs", {"dry_run": False}, key="run-1")
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]

    runs = operator.get("/api/v1/retention/runs").json()["items"]
    assert [r["id"] for r in runs] == [first.json()["id"], dry.json()["id"]]
    one = operator.get(f"/api/v1/retention/runs/{first.json()['id']}")
    assert one.status_code == 200 and one.json()["trigger"] == "api"
    assert one.json()["actor"] != "cli"


def test_api_errors_are_clear(operator: Operator) -> None:
    assert operator.get("/api/v1/retention/runs/ret_nope").status_code == 404
    bad = operator.post("/api/v1/retention/runs", {"dry_run": "yes"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "dry_run"
    unknown = operator.post("/api/v1/retention/runs", {"categories": ["everything"]})
    assert unknown.status_code == 422
    no_key = operator.client.post("/api/v1/retention/runs", json={}, headers=operator.auth)
    assert no_key.status_code == 400
    assert operator.client.get("/api/v1/retention/policies").status_code == 401


def test_the_scheduled_job_runs_the_policies(
    settings: Settings, db: Database, clock: ManualClock, node_secrets: NodeSecrets
) -> None:
    member = idle_member(db, node_secrets, clock)
    scheduled = settings.model_copy(update={"retention_interval_seconds": 86_400})
    app = create_app(scheduled, clock=clock, secrets=node_secrets, database=db, run_jobs=False)
    node = app.state.node
    assert "retention" in [job.name for job in node_jobs(node, http=None)]  # type: ignore[arg-type]
    asyncio.run(run_retention_policies(node))
    assert status(db, member) == "erased"
    with TestClient(app, base_url="http://cafe.test"):
        pass


@pytest.fixture
def node_dir(tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]) -> Path:
    directory = tmp_path / "cafe"
    code = main(
        ["--data-dir", str(directory), "init", "--node-id", "cafe", "--database-url", database_url]
    )
    capsys.readouterr()
    assert code == 0
    return directory


def test_the_cli_lists_policies_runs_and_records(
    node_dir: Path,
    db: Database,
    clock: ManualClock,
    node_secrets: NodeSecrets,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    member = idle_member(db, node_secrets, clock)
    monkeypatch.setattr(cli_retention, "CLOCK", clock)

    def konsort(*args: str) -> str:
        code = main(["--data-dir", str(node_dir), "retention", *args])
        out, err = capsys.readouterr()
        assert code == 0, err
        return out

    policies = konsort("policies")
    assert "inactive_customers\t1095 days\tanonymise\t2023-01-02T00:00:00Z\tyes" in policies
    assert "audit_log\t1095 days\tdelete\t" in policies and "no (not registered)" not in policies

    dry = konsort("run", "--dry-run", "--category", "inactive_customers")
    assert f"inactive_customers: 1 would go (anonymise): {member}" in dry
    assert status(db, member) == "active"

    real = konsort("run", "--category", "inactive_customers", "--quiet")
    assert "inactive_customers: 1 anonymised" in real
    assert status(db, member) == "erased"

    listed = konsort("runs").splitlines()
    assert len(listed) == 3
    assert "\trun\tcli\tcli\t" in listed[1] and listed[1].split("\t")[6] == "1"
    assert "\tdry run\tcli\tcli\t" in listed[2]

    code = main(["--data-dir", str(node_dir), "retention", "run", "--category", "nope"])
    assert code == 2
    assert "unknown retention category" in capsys.readouterr().err
