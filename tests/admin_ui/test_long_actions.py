"""Long actions run as background jobs: the retention run and the ledger CSV start,
answer with a status page at once, show progress, and link to an audited result."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import timedelta

from sqlmodel import select
from starlette.testclient import TestClient

from node.clock import ManualClock
from node.db import Database
from node.services import (
    audit,
    background_jobs,
    consent,
    consent_reports,
    ledger_export,
    retention,
    staff,
)
from node.services.apikeys import create_api_key
from node.services.idempotency import run_idempotent
from node.settings import Settings
from node.store import jobs as store
from node.store.job_models import BackgroundJob
from tests.admin_ui.conftest import SAME_ORIGIN, sign_in


def _purchases(ui: TestClient, db: Database, clock: ManualClock, count: int) -> str:
    token = create_api_key(db, name="till", now=clock.now()).token
    auth = {"Authorization": f"Bearer {token}"}
    created = ui.post(
        "/api/v1/customers",
        json={"name": "Ada Lovelace", "email": "ada@example.org"},
        headers={**auth, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert created.status_code == 201, created.text
    customer = str(created.json()["id"])
    for _ in range(count):
        bought = ui.post(
            f"/api/v1/customers/{customer}/purchases",
            json={"amount": 1000},
            headers={**auth, "Idempotency-Key": str(uuid.uuid4())},
        )
        assert bought.status_code in (200, 201), bought.text
    return customer


def _queue(db: Database, clock: ManualClock, kind: str, params: dict[str, object]) -> str:
    unit = background_jobs.start_job_unit(
        kind=kind,
        params=params,
        actor="staff:stf_x",
        idempotency_key=uuid.uuid4().hex,
        now=clock.now(),
    )
    return str(run_idempotent(db, unit).body["id"])


def test_the_ledger_form_starts_a_job_whose_page_links_to_an_audited_file(
    ui: TestClient,
    db: Database,
    clock: ManualClock,
    staff_users: dict[str, staff.StaffAccount],
) -> None:
    customer = _purchases(ui, db, clock, 3)
    sign_in(ui, "privacy-officer")
    day = clock.now().date().isoformat()
    form = {"from": day, "to": day, "key": "k1"}
    started = ui.post("/admin/privacy/exports/ledger-jobs", data=form, headers=SAME_ORIGIN)
    assert started.status_code == 303
    status_url = started.headers["location"]
    assert status_url.startswith("/admin/privacy/exports/jobs/job_")
    again = ui.post("/admin/privacy/exports/ledger-jobs", data=form, headers=SAME_ORIGIN)
    assert again.headers["location"] == status_url  # a double submit names the same job

    status = ui.get(status_url)
    assert status.status_code == 200
    assert 'http-equiv="refresh"' not in status.text  # finished: no more refreshing
    expected = ledger_export.entry_count(db, first=clock.now().date(), last=clock.now().date())
    assert expected >= 6
    assert f"{expected} of {expected} done (100 %)." in status.text
    file_url = status_url + "/file"
    assert f'href="{file_url}"' in status.text

    downloaded = ui.get(file_url)
    assert downloaded.status_code == 200
    assert downloaded.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(downloaded.text)))
    assert rows[0] == list(ledger_export.CSV_COLUMNS) and len(rows) == expected + 1
    assert any(customer in row[3] for row in rows[1:])
    entries = [
        e
        for e in audit.latest_entries(db, customer_id=None, limit=20)
        if e["action"] == "report.download"
    ]
    assert [e["detail"]["page"] for e in entries] == ["privacy_export_job_file"]
    assert entries[0]["actor"] == f"staff:{staff_users['privacy_officer'].id}"


def test_bad_dates_keep_the_form_and_start_no_job(
    ui: TestClient, db: Database, staff_users: dict[str, staff.StaffAccount]
) -> None:
    sign_in(ui, "privacy-officer")
    bad = ui.post(
        "/admin/privacy/exports/ledger-jobs",
        data={"from": "2026-02-01", "to": "2026-01-01"},
        headers=SAME_ORIGIN,
    )
    assert bad.status_code == 422 and "the last day is before the first" in bad.text
    assert 'value="2026-02-01"' in bad.text and 'value="2026-01-01"' in bad.text
    typo = ui.post(
        "/admin/privacy/exports/ledger-jobs",
        data={"from": "yesterday", "to": "2026-01-01"},
        headers=SAME_ORIGIN,
    )
    assert typo.status_code == 422 and "a date like" in typo.text
    with db.read() as session:
        assert session.exec(select(BackgroundJob)).all() == []


def test_a_job_not_yet_run_shows_a_refreshing_page_without_a_result(
    ui: TestClient, db: Database, clock: ManualClock, staff_users: dict[str, staff.StaffAccount]
) -> None:
    day = clock.now().date().isoformat()
    job_id = _queue(db, clock, "ledger_csv", {"first": day, "last": day})
    sign_in(ui, "privacy-officer")
    page = ui.get(f"/admin/privacy/exports/jobs/{job_id}")
    assert page.status_code == 200
    assert '<meta http-equiv="refresh" content="2">' in page.text
    assert "waiting to start" in page.text and "/file" not in page.text
    assert 'href="?refresh=off"' in page.text  # the reader can stop the refreshing
    still = ui.get(f"/admin/privacy/exports/jobs/{job_id}?refresh=off")
    assert 'http-equiv="refresh"' not in still.text and "waiting to start" in still.text
    assert ui.get(f"/admin/privacy/exports/jobs/{job_id}/file").status_code == 404
    # A job of another kind is not found under the retention pages.
    assert ui.get(f"/admin/privacy/retention/jobs/{job_id}").status_code == 404


def test_a_job_left_queued_by_a_stopped_process_is_started_by_its_status_page(
    ui: TestClient, db: Database, clock: ManualClock, staff_users: dict[str, staff.StaffAccount]
) -> None:
    _purchases(ui, db, clock, 1)
    day = clock.now().date().isoformat()
    job_id = _queue(db, clock, "ledger_csv", {"first": day, "last": day})
    clock.advance(background_jobs.RESUME_AFTER)
    sign_in(ui, "privacy-officer")
    resumed = ui.get(f"/admin/privacy/exports/jobs/{job_id}")
    assert resumed.status_code == 303
    job = background_jobs.get_job(db, job_id=job_id)
    assert job.state == "done" and job.result is not None and job.done == job.total > 0
    # It ran once: running it again claims nothing and changes nothing.
    background_jobs.run_job(db, Settings(), job_id=job_id, clock=clock, fed=None)
    assert background_jobs.get_job(db, job_id=job_id).finished_at == job.finished_at


def test_a_silent_running_job_is_marked_failed(db: Database, clock: ManualClock) -> None:
    job_id = _queue(db, clock, "retention", {"dry_run": True})
    with db.transaction() as session:
        assert store.claim_job(session=session, public_id=job_id, now=clock.now())
    clock.advance(background_jobs.STALE_AFTER)
    job, resume = background_jobs.job_status(db, job_id=job_id, now=clock.now())
    assert job.state == "failed" and not resume and job.error


def test_the_retention_run_is_a_job_that_links_to_its_run_and_deletes_once(
    ui: TestClient,
    db: Database,
    clock: ManualClock,
    settings: Settings,
    staff_users: dict[str, staff.StaffAccount],
) -> None:
    customer = _purchases(ui, db, clock, 0)
    for granted in (True, False):
        with db.transaction() as session:
            consent.record_consent_txn(
                session=session,
                customer_id=customer,
                purpose="marketing",
                granted=granted,
                channel="web",
                actor="customer",
                now=clock.now(),
            )
    clock.advance(timedelta(days=settings.retention_withdrawn_consent_days + 1))
    sign_in(ui, "privacy-officer")
    data = {"dry_run": "0", "key": "r1"}
    started = ui.post("/admin/privacy/retention/runs", data=data, headers=SAME_ORIGIN)
    assert started.status_code == 303
    status_url = started.headers["location"]
    assert status_url.startswith("/admin/privacy/retention/jobs/job_")
    again = ui.post("/admin/privacy/retention/runs", data=data, headers=SAME_ORIGIN)
    assert again.headers["location"] == status_url
    runs = retention.list_runs(db)
    assert len(runs) == 1 and runs[0].trigger == "ui"
    assert runs[0].actor == f"staff:{staff_users['privacy_officer'].id}"
    status = ui.get(status_url)
    assert status.status_code == 200 and "finished" in status.text
    categories = retention.run_json(runs[0])["categories"]
    due = sum(c["due"] for c in categories)
    withdrawn = next(c for c in categories if c["category"] == "withdrawn_consent")
    assert withdrawn["applied"] == 2 and due >= 2
    assert f"{due} of {due} done (100 %)." in status.text
    run_url = f"/admin/privacy/retention/runs/{runs[0].public_id}"
    assert f'href="{run_url}"' in status.text
    applied = sum(c["applied"] for c in categories)
    assert f"{applied} items were deleted or anonymised." in ui.get(run_url).text
    assert customer not in "".join(consent_reports.consent_records_csv(db))


def test_an_auditor_starts_no_job_and_sees_no_export_job(
    ui: TestClient, db: Database, clock: ManualClock, staff_users: dict[str, staff.StaffAccount]
) -> None:
    day = clock.now().date().isoformat()
    job_id = _queue(db, clock, "ledger_csv", {"first": day, "last": day})
    sign_in(ui, "auditor")
    refused = ui.post(
        "/admin/privacy/exports/ledger-jobs", data={"from": day, "to": day}, headers=SAME_ORIGIN
    )
    assert refused.status_code == 403
    assert ui.get(f"/admin/privacy/exports/jobs/{job_id}").status_code == 403
    assert ui.get(f"/admin/privacy/exports/jobs/{job_id}/file").status_code == 403
    assert ui.get("/admin/privacy/retention/jobs/job_nothing").status_code == 404
