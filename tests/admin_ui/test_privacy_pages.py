"""The privacy officer's pages over HTTP: the request queue and review flow, the
audited access export, partners' receipts with "deliver now", and the audit log."""

from __future__ import annotations

import io
import json
import re
import uuid
import zipfile
from datetime import timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from node.clock import ManualClock
from node.db import Database
from node.errors import Conflict
from node.services import audit, partner_notices, staff
from node.services.apikeys import create_api_key
from tests.admin_ui.conftest import BASE, SAME_ORIGIN, make_staff, sign_in
from tests.node.federation.conftest import Consortium, consortium
from tests.node.federation.test_partner_notices import linked

__all__ = ["consortium", "linked"]  # fixtures


def _operator(ui: TestClient, db: Database, clock: ManualClock) -> dict[str, str]:
    token = create_api_key(db, name="till", now=clock.now()).token
    return {"Authorization": f"Bearer {token}"}


def _member(ui: TestClient, auth: dict[str, str]) -> str:
    created = ui.post(
        "/api/v1/customers",
        json={"name": "Ada Lovelace", "email": "ada@example.org"},
        headers={**auth, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def _file(ui: TestClient, auth: dict[str, str], customer: str, type: str = "access") -> str:
    filed = ui.post(
        "/api/v1/privacy/requests",
        json={"customer_id": customer, "type": type, "channel": "in_person"},
        headers={**auth, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert filed.status_code == 201, filed.text
    return str(filed.json()["id"])


def _act(ui: TestClient, request_id: str, **form: str) -> Any:
    return ui.post(f"/admin/privacy/requests/{request_id}", data=form, headers=SAME_ORIGIN)


@pytest.fixture
def filed(
    ui: TestClient,
    db: Database,
    clock: ManualClock,
    staff_users: dict[str, staff.StaffAccount],
) -> tuple[str, str]:
    """(customer id, request id) of an access request staff filed for Ada."""
    auth = _operator(ui, db, clock)
    customer = _member(ui, auth)
    return customer, _file(ui, auth, customer)


def test_a_privacy_officer_verifies_approves_and_downloads_the_export(
    ui: TestClient,
    db: Database,
    filed: tuple[str, str],
    staff_users: dict[str, staff.StaffAccount],
) -> None:
    customer, request_id = filed
    sign_in(ui, "privacy-officer")
    queue = ui.get("/admin/privacy/requests")
    assert queue.status_code == 200 and request_id in queue.text
    page = ui.get(f"/admin/privacy/requests/{request_id}")
    assert "Verify identity" in page.text and "Approve and carry out" not in page.text

    verified = _act(ui, request_id, action="verify", method="in_person_document", key="k1")
    assert verified.status_code == 303
    page = ui.get(verified.headers["location"])
    assert "identity verified" in page.text and "Approve and carry out" in page.text
    approved = _act(ui, request_id, action="approve", key="k2")
    assert approved.status_code == 303
    page = ui.get(approved.headers["location"])
    assert "done" in page.text and "Download the access export" in page.text
    # No personal data on the request page.
    assert "Ada" not in page.text and "ada@example.org" not in page.text

    downloaded = ui.get(f"/admin/privacy/requests/{request_id}/export")
    assert downloaded.status_code == 200
    assert downloaded.headers["content-type"] == "application/zip"
    assert "attachment" in downloaded.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(downloaded.content)) as archive:
        document = json.loads(archive.read("export.json"))
    assert document["customer_id"] == customer
    assert "ada@example.org" in json.dumps(document["sections"])
    entries = audit.latest_entries(db, customer_id=customer, limit=5)
    downloads = [e for e in entries if e["action"] == "export.download"]
    assert len(downloads) == 1
    assert downloads[0]["actor"] == f"staff:{staff_users['privacy_officer'].id}"
    assert downloads[0]["purpose"] == "subject_request"


def test_a_double_submitted_approval_acts_once(
    ui: TestClient, filed: tuple[str, str], staff_users: dict[str, staff.StaffAccount]
) -> None:
    _, request_id = filed
    sign_in(ui, "privacy-officer")
    _act(ui, request_id, action="verify", method="in_person_document", key="v")
    first = _act(ui, request_id, action="approve", key="same")
    again = _act(ui, request_id, action="approve", key="same")
    assert first.status_code == again.status_code == 303
    other = _act(ui, request_id, action="approve", key="another")
    assert other.status_code == 409
    assert "approved" in other.text or "done" in other.text


def test_a_rejection_needs_a_reason_and_keeps_the_form(
    ui: TestClient, filed: tuple[str, str], staff_users: dict[str, staff.StaffAccount]
) -> None:
    _, request_id = filed
    sign_in(ui, "privacy-officer")
    refused = _act(ui, request_id, action="reject", reason="   ", key="r1")
    assert refused.status_code == 422
    assert "a rejection needs a reason" in refused.text
    assert 'aria-invalid="true"' in refused.text
    assert "received" in ui.get(f"/admin/privacy/requests/{request_id}").text
    rejected = _act(ui, request_id, action="reject", reason="not our member", key="r2")
    assert rejected.status_code == 303
    page = ui.get(f"/admin/privacy/requests/{request_id}")
    assert "not our member" in page.text and "Verify identity" not in page.text


def test_extending_once_with_a_reason(
    ui: TestClient, filed: tuple[str, str], staff_users: dict[str, staff.StaffAccount]
) -> None:
    _, request_id = filed
    sign_in(ui, "privacy-officer")
    missing = _act(ui, request_id, action="extend", months="1", extension_reason="", key="e0")
    assert missing.status_code == 422 and "an extension needs a reason" in missing.text
    bad = _act(ui, request_id, action="extend", months="x", extension_reason="many", key="e1")
    assert bad.status_code == 422 and "one or two months" in bad.text
    extended = _act(ui, request_id, action="extend", months="2", extension_reason="many", key="e2")
    assert extended.status_code == 303
    page = ui.get(f"/admin/privacy/requests/{request_id}")
    assert "by 2 months: many" in page.text and "Extend the deadline" not in page.text


def test_the_queue_marks_overdue_requests(
    ui: TestClient,
    clock: ManualClock,
    filed: tuple[str, str],
    staff_users: dict[str, staff.StaffAccount],
) -> None:
    _, request_id = filed
    sign_in(ui, "auditor")
    assert 'class="overdue"' not in ui.get("/admin/privacy/requests").text
    assert request_id not in ui.get("/admin/privacy/requests?show=overdue").text
    clock.advance(timedelta(days=32))
    sign_in(ui, "auditor")  # the session ended long ago
    overdue = ui.get("/admin/privacy/requests?show=overdue")
    assert request_id in overdue.text and 'class="overdue"' in overdue.text


def test_an_auditor_reads_the_request_but_acts_on_nothing(
    ui: TestClient, filed: tuple[str, str], staff_users: dict[str, staff.StaffAccount]
) -> None:
    _, request_id = filed
    sign_in(ui, "auditor")
    page = ui.get(f"/admin/privacy/requests/{request_id}")
    assert page.status_code == 200 and '<form method="post" action="/admin/privacy' not in page.text
    refused = _act(ui, request_id, action="reject", reason="no", key="a")
    assert refused.status_code == 403
    assert ui.get(f"/admin/privacy/requests/{request_id}/export").status_code == 403


def test_an_export_that_does_not_exist_is_a_clear_error(
    ui: TestClient, filed: tuple[str, str], staff_users: dict[str, staff.StaffAccount]
) -> None:
    _, request_id = filed
    sign_in(ui, "privacy-officer")
    assert ui.get(f"/admin/privacy/requests/{request_id}/export").status_code == 409
    assert ui.get("/admin/privacy/requests/req_nothing").status_code == 404


def test_the_audit_log_filters_and_shows_the_chain_state(
    ui: TestClient,
    db: Database,
    filed: tuple[str, str],
    staff_users: dict[str, staff.StaffAccount],
) -> None:
    customer, request_id = filed
    sign_in(ui, "privacy-officer")
    _act(ui, request_id, action="verify", method="in_person_document", key="v")
    _act(ui, request_id, action="approve", key="a")
    ui.get(f"/admin/privacy/requests/{request_id}/export")
    ui.cookies.clear()
    sign_in(ui, "auditor")
    officer = f"staff:{staff_users['privacy_officer'].id}"
    page = ui.get("/admin/privacy/audit", params={"staff": officer, "action": "export.download"})
    assert page.status_code == 200
    assert "The hash chain verifies" in page.text
    rows = re.findall(r"<tr><td class=\"num\">\d+</td>.*?</tr>", page.text)
    assert len(rows) == 1 and customer in rows[0] and officer in rows[0]
    other = ui.get("/admin/privacy/audit", params={"customer": "cus_nobody"})
    assert "No entries match." in other.text
    wrong = ui.get("/admin/privacy/audit", params={"from": "yesterday"})
    assert wrong.status_code == 422 and "a date like" in wrong.text
    assert 'value="yesterday"' in wrong.text


def test_audit_search_filters_by_date(db: Database, clock: ManualClock) -> None:
    with db.transaction() as session:
        audit.record_txn(
            session=session,
            actor="staff:stf_x",
            action="page.view",
            customer_id="cus_a",
            purpose="customer_service",
            now=clock.now(),
        )
    day = clock.now().replace(hour=0, minute=0, second=0, microsecond=0)
    found, _ = audit.search_entries(db, since=day, until=day + timedelta(days=1))
    assert [e["customer_id"] for e in found] == ["cus_a"]
    found, _ = audit.search_entries(db, since=day + timedelta(days=1))
    assert found == []
    with pytest.raises(Exception, match="after the start"):
        audit.search_entries(db, since=day, until=day)


def test_partners_receipts_arrive_and_a_missing_one_is_delivered_now(
    consortium: Consortium, linked: dict[str, str]
) -> None:
    cafe = consortium["cafe"]
    make_staff(cafe.db, cafe.secrets, consortium.clock, role="privacy_officer")
    ui = TestClient(cafe.app, base_url=BASE, follow_redirects=False)
    request_id = _file(ui, cafe.operator(), linked["cafe"], type="erasure")
    sign_in(ui, "privacy-officer")
    consortium.router.down.add("charity.test")
    assert _act(ui, request_id, action="verify", method="in_person_document", key="v").is_redirect
    assert _act(ui, request_id, action="approve", key="a").is_redirect
    consortium.settle()

    page = ui.get(f"/admin/privacy/requests/{request_id}").text
    # Partners by the manifest's display names, their node ids beside them.
    assert "Bookshop <span" in page and "(bookshop)" in page and "Charity <span" in page
    assert "Deliver the notice to Charity now" in page
    assert page.count("receipt in") == 1 and page.count("Deliver now") == 1

    consortium.router.down.clear()
    consortium.settle()  # the charity's notice waits for its back-off: nothing moves
    assert ui.get(f"/admin/privacy/requests/{request_id}").text.count("Deliver now") == 1
    notice = next(n for n in partner_notices.notices_for_request(cafe.db, request_ref=request_id))
    charity_notice = [
        n
        for n in partner_notices.notices_for_request(cafe.db, request_ref=request_id)
        if n.partner == "charity"
    ][0]
    assert notice.partner == "bookshop"
    delivered = ui.post(
        f"/admin/privacy/requests/{request_id}/deliver",
        data={"notice": charity_notice.id},
        headers=SAME_ORIGIN,
    )
    assert delivered.status_code == 303
    consortium.settle()
    page = ui.get(f"/admin/privacy/requests/{request_id}").text
    assert page.count("receipt in") == 2 and "Deliver now" not in page
    with pytest.raises(Conflict):
        partner_notices.deliver_notice_now(
            cafe.db, notice_id=charity_notice.id, now=consortium.clock.now()
        )
