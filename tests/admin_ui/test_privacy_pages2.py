"""The privacy officer's consent, retention and exports pages over HTTP, and the
services behind them (consent_reports, ledger_export)."""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import date, timedelta

from starlette.testclient import TestClient

from node.clock import ManualClock
from node.db import Database
from node.services import audit, consent, consent_reports, ledger_export, retention, staff
from node.services.apikeys import create_api_key
from node.settings import Settings
from tests.admin_ui.conftest import SAME_ORIGIN, sign_in


def _auth(db: Database, clock: ManualClock) -> dict[str, str]:
    token = create_api_key(db, name="till", now=clock.now()).token
    return {"Authorization": f"Bearer {token}"}


def _member(ui: TestClient, auth: dict[str, str], email: str = "ada@example.org") -> str:
    created = ui.post(
        "/api/v1/customers",
        json={"name": "Ada Lovelace", "email": email},
        headers={**auth, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def _answer(db: Database, clock: ManualClock, customer: str, purpose: str, granted: bool) -> None:
    with db.transaction() as session:
        consent.record_consent_txn(
            session=session,
            customer_id=customer,
            purpose=purpose,
            granted=granted,
            channel="web",
            actor="customer",
            now=clock.now(),
        )


def test_consent_counts_follow_each_members_newest_answer_and_version(
    ui: TestClient, db: Database, clock: ManualClock
) -> None:
    auth = _auth(db, clock)
    ada, bob, cy = (_member(ui, auth, f"{n}@example.org") for n in ("ada", "bob", "cy"))
    before = {p["purpose"]: p for p in consent_reports.consent_counts(db)["purposes"]}
    _answer(db, clock, ada, "marketing", True)
    _answer(db, clock, bob, "marketing", True)
    _answer(db, clock, bob, "marketing", False)
    consent_purposes_publish(db, clock)
    _answer(db, clock, cy, "marketing", True)  # under version 2
    report = consent_reports.consent_counts(db)
    marketing = next(p for p in report["purposes"] if p["purpose"] == "marketing")
    base = before["marketing"]
    assert marketing["granted"] == base["granted"] + 2
    assert marketing["withdrawn"] == base["withdrawn"] + 1
    by_version = {v["version"]: v for v in marketing["versions"]}
    newest = max(by_version)
    assert by_version[newest]["granted"] == 1 and by_version[newest]["current"]
    assert by_version[newest - 1]["withdrawn"] >= 1
    withdrawal = report["recent_withdrawals"][0]
    assert withdrawal["customer_id"] == bob and withdrawal["purpose"] == "marketing"
    assert "Ada" not in repr(report) and "example.org" not in repr(report)


def consent_purposes_publish(db: Database, clock: ManualClock) -> None:
    from node.services import consent_purposes

    consent_purposes.publish_wording(
        db, purpose="marketing", title="News", text="We send news.", actor="test", now=clock.now()
    )


def test_the_consent_page_shows_counts_and_a_customers_history_is_audited(
    ui: TestClient,
    db: Database,
    clock: ManualClock,
    staff_users: dict[str, staff.StaffAccount],
) -> None:
    auth = _auth(db, clock)
    ada = _member(ui, auth)
    _answer(db, clock, ada, "marketing", True)
    _answer(db, clock, ada, "marketing", False)
    sign_in(ui, "privacy-officer")
    page = ui.get("/admin/privacy/consent")
    assert page.status_code == 200
    assert "Recent withdrawals" in page.text and ada in page.text
    assert "Ada" not in page.text and "ada@example.org" not in page.text
    assert audit.latest_entries(db, customer_id=ada, limit=5) == []

    history = ui.get(f"/admin/privacy/consent/history?customer={ada}")
    assert history.status_code == 200
    assert history.text.count("marketing") >= 2 and "withdrawn" in history.text
    entries = audit.latest_entries(db, customer_id=ada, limit=5)
    assert [e["action"] for e in entries] == ["consent.view"]
    assert entries[0]["actor"] == f"staff:{staff_users['privacy_officer'].id}"
    missing = ui.get("/admin/privacy/consent/history?customer=cus_nobody")
    assert missing.status_code == 404


def test_an_auditor_sees_counts_but_no_members_history(
    ui: TestClient, db: Database, clock: ManualClock, staff_users: dict[str, staff.StaffAccount]
) -> None:
    ada = _member(ui, _auth(db, clock))
    sign_in(ui, "auditor")
    page = ui.get("/admin/privacy/consent")
    assert page.status_code == 200 and "consent history" not in page.text
    assert ui.get(f"/admin/privacy/consent/history?customer={ada}").status_code == 403
    assert ui.get("/admin/privacy/consent/purposes/marketing").status_code == 403


def test_editing_wording_publishes_the_next_version_once(
    ui: TestClient, db: Database, staff_users: dict[str, staff.StaffAccount]
) -> None:
    sign_in(ui, "privacy-officer")
    form = ui.get("/admin/privacy/consent/purposes/marketing")
    assert form.status_code == 200 and 'name="key"' in form.text
    before = _versions(db)
    bad = ui.post(
        "/admin/privacy/consent/purposes/marketing",
        data={"title": "News", "text": "   ", "key": "w0"},
        headers=SAME_ORIGIN,
    )
    assert bad.status_code == 422 and "the text is 1-4000 characters" in bad.text
    assert 'aria-invalid="true"' in bad.text and _versions(db) == before
    data = {"title": "News <b>", "text": "We send news twice a month.", "key": "w1"}
    first = ui.post("/admin/privacy/consent/purposes/marketing", data=data, headers=SAME_ORIGIN)
    again = ui.post("/admin/privacy/consent/purposes/marketing", data=data, headers=SAME_ORIGIN)
    assert first.status_code == again.status_code == 303
    assert _versions(db) == before + 1
    page = ui.get(first.headers["location"])
    assert "New wording published." in page.text and "News &lt;b&gt;" in page.text
    assert ui.get("/admin/privacy/consent/purposes/nothing").status_code == 404


def _versions(db: Database) -> int:
    from node.services import consent_purposes

    found = next(p for p in consent_purposes.list_purposes(db) if p.purpose == "marketing")
    return found.current.version


def test_retention_dry_run_counts_and_run_now_deletes_once(
    ui: TestClient,
    db: Database,
    clock: ManualClock,
    settings: Settings,
    staff_users: dict[str, staff.StaffAccount],
) -> None:
    ada = _member(ui, _auth(db, clock))
    _answer(db, clock, ada, "marketing", True)
    _answer(db, clock, ada, "marketing", False)
    days = settings.retention_withdrawn_consent_days
    clock.advance(timedelta(days=days + 1))
    sign_in(ui, "privacy-officer")
    page = ui.get("/admin/privacy/retention")
    assert page.status_code == 200
    assert "retention_withdrawn_consent_days" in page.text
    assert "KONSORT_RETENTION_WITHDRAWN_CONSENT_DAYS" in page.text
    assert "cannot be edited here" in page.text

    dry = ui.post(
        "/admin/privacy/retention/runs", data={"dry_run": "1", "key": "d1"}, headers=SAME_ORIGIN
    )
    assert dry.status_code == 303
    job = ui.get(dry.headers["location"])  # the run is a background job; its page links to it
    found = re.search(r'href="(/admin/privacy/retention/runs/ret_[0-9a-f]+)"', job.text)
    assert found is not None, job.text
    shown = ui.get(found.group(1))
    assert shown.status_code == 200 and "Nothing was deleted:" in shown.text
    row = '<td>withdrawn_consent</td><td>done</td><td>delete</td><td class="num">2</td>'
    assert row in shown.text
    assert len(consent.consent_history(db, customer_id=ada)) == 2

    data = {"dry_run": "0", "key": "r1"}
    run = ui.post("/admin/privacy/retention/runs", data=data, headers=SAME_ORIGIN)
    again = ui.post("/admin/privacy/retention/runs", data=data, headers=SAME_ORIGIN)
    assert run.headers["location"] == again.headers["location"]
    assert ada not in "".join(consent_reports.consent_records_csv(db))
    runs = retention.list_runs(db)
    assert len(runs) == 2 and {r.trigger for r in runs} == {"ui"}
    assert runs[0].actor == f"staff:{staff_users['privacy_officer'].id}"
    listing = ui.get("/admin/privacy/retention")
    assert runs[0].public_id in listing.text and runs[1].public_id in listing.text
    assert ui.get("/admin/privacy/retention/runs/ret_nothing").status_code == 404


def test_an_auditor_sees_retention_but_cannot_run_it(
    ui: TestClient, staff_users: dict[str, staff.StaffAccount]
) -> None:
    sign_in(ui, "auditor")
    page = ui.get("/admin/privacy/retention")
    assert page.status_code == 200 and "Run now" not in page.text
    refused = ui.post(
        "/admin/privacy/retention/runs", data={"dry_run": "0", "key": "x"}, headers=SAME_ORIGIN
    )
    assert refused.status_code == 403


def test_the_ledger_csv_has_every_entry_of_the_range_with_opaque_ids_only(
    ui: TestClient, db: Database, clock: ManualClock
) -> None:
    auth = _auth(db, clock)
    ada = _member(ui, auth)
    bought = ui.post(
        f"/api/v1/customers/{ada}/purchases",
        json={"amount": 12345},
        headers={**auth, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert bought.status_code in (200, 201), bought.text
    today = clock.now().date()
    rows = list(
        csv.reader(io.StringIO("".join(ledger_export.ledger_csv(db, first=today, last=today))))
    )
    assert rows[0] == list(ledger_export.CSV_COLUMNS)
    entries = rows[1:]
    assert len(entries) >= 2 and sum(int(r[4]) for r in entries) == 0
    assert any(ada in r[3] for r in entries)
    assert "Ada" not in repr(rows) and "example.org" not in repr(rows)
    yesterday = today - timedelta(days=1)
    empty = list(ledger_export.ledger_csv(db, first=yesterday, last=yesterday))
    assert len(empty) == 1


def test_export_downloads_are_audited_and_bad_dates_keep_the_form(
    ui: TestClient,
    db: Database,
    clock: ManualClock,
    staff_users: dict[str, staff.StaffAccount],
) -> None:
    auth = _auth(db, clock)
    ada = _member(ui, auth)
    _answer(db, clock, ada, "marketing", True)
    sign_in(ui, "privacy-officer")
    assert "Download the ledger" in ui.get("/admin/privacy/exports").text
    start = "/admin/privacy/exports/ledger-jobs"
    bad = ui.post(start, data={"from": "2026-02-01", "to": "2026-01-01"}, headers=SAME_ORIGIN)
    assert bad.status_code == 422 and "the last day is before the first" in bad.text
    assert 'value="2026-02-01"' in bad.text
    typo = ui.post(start, data={"from": "yesterday", "to": "2026-01-01"}, headers=SAME_ORIGIN)
    assert typo.status_code == 422 and "a date like" in typo.text
    assert _downloads(db) == []

    day = clock.now().date().isoformat()
    chosen = ui.post(start, data={"from": day, "to": day}, headers=SAME_ORIGIN)
    assert chosen.status_code == 303  # a background job; its page links to the file
    ledger = ui.get(chosen.headers["location"] + "/file")
    assert ledger.status_code == 200 and ledger.headers["content-type"].startswith("text/csv")
    assert ledger.text.startswith("transaction_id,")
    records = ui.get("/admin/privacy/exports/consent-records.csv")
    assert records.status_code == 200 and ada in records.text
    assert "ada@example.org" not in records.text
    art30 = ui.get("/admin/privacy/exports/records-of-processing.md")
    assert art30.status_code == 200 and "attachment" in art30.headers["content-disposition"]
    assert "marketing" in art30.text
    pages = [e["detail"]["page"] for e in _downloads(db)]
    assert sorted(pages) == [
        "privacy_export_consent",
        "privacy_export_job_file",
        "privacy_export_processing",
    ]
    officer = f"staff:{staff_users['privacy_officer'].id}"
    assert {e["actor"] for e in _downloads(db)} == {officer}
    assert all(e["customer_id"] is None for e in _downloads(db))


def _downloads(db: Database) -> list[dict[str, object]]:
    return [
        e
        for e in audit.latest_entries(db, customer_id=None, limit=50)
        if e["action"] == "report.download"
    ]


def test_an_auditor_downloads_no_export(
    ui: TestClient, db: Database, staff_users: dict[str, staff.StaffAccount]
) -> None:
    sign_in(ui, "auditor")
    page = ui.get("/admin/privacy/exports")
    assert page.status_code == 200 and "may not download" in page.text
    assert ui.get("/admin/privacy/exports/consent-records.csv").status_code == 403
    assert (
        ui.get("/admin/privacy/exports/ledger.csv?from=2026-01-01&to=2026-01-01").status_code == 403
    )
    assert _downloads(db) == []


def test_a_ledger_range_is_checked(db: Database) -> None:
    import pytest

    from node.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        ledger_export.day_range(date(2026, 2, 1), date(2026, 1, 1))
    with pytest.raises(ValidationFailed):
        ledger_export.day_range(date(2000, 1, 1), date(2026, 1, 1))
