"""The privacy parts working together: requests act through the consent guard, the
profile service and the audit log; the export carries consents and staff look-ups;
retention reaches consent and request records."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta

from node.clock import ManualClock
from node.db import Database
from node.services import consent, retention
from node.settings import Settings
from tests.node.conftest import Operator
from tests.node.privacy.helpers import (
    MINE,
    STAFF,
    Member,
    approve,
    staff_file,
    verify_in_person,
)


def _consents(member: Member) -> dict[str, bool]:
    items = member.get("/api/v1/me/consents").json()["purposes"]
    return {item["purpose"]: item["granted"] for item in items}


def _audit(operator: Operator, customer_id: str) -> list[dict[str, object]]:
    return list(operator.get(f"/api/v1/audit?customer_id={customer_id}").json()["items"])


def test_the_export_lists_consents_with_wording_and_staff_lookups(operator: Operator) -> None:
    customer = operator.post(
        "/api/v1/customers",
        {"name": "Ann", "email": "ann@example.com", "consents": {"marketing": True}},
    ).json()["id"]
    assert (
        operator.get(
            f"/api/v1/customers/{customer}/profile", headers={"Konsort-Purpose": "fraud_check"}
        ).status_code
        == 200
    )
    member = Member(operator, customer)
    request_id = member.post(MINE, {"type": "access"}).json()["id"]
    assert approve(operator, request_id).status_code == 200
    staff_download = operator.get(
        f"{STAFF}/{request_id}/export", headers={"Konsort-Purpose": "subject_request"}
    )
    assert staff_download.status_code == 200
    downloads = [e for e in _audit(operator, customer) if e["action"] == "export.download"]
    assert len(downloads) == 1 and downloads[0]["purpose"] == "subject_request"

    own = member.get(f"{MINE}/{request_id}/export")
    assert own.status_code == 200
    sections = json.loads(zipfile.ZipFile(io.BytesIO(own.content)).read("export.json"))["sections"]
    marketing = [row for row in sections["consents"] if row["purpose"] == "marketing"]
    assert marketing and marketing[0]["granted"] is True
    assert marketing[0]["channel"] == "enrolment" and marketing[0]["wording"]
    lookups = sections["staff_lookups"]
    assert {"profile.view", "export.download"} <= {row["action"] for row in lookups}
    assert "fraud_check" in {row["purpose"] for row in lookups}
    # The member's own download is not a staff access.
    assert len([e for e in _audit(operator, customer) if e["action"] == "export.download"]) == 1


def _guard_allows(db: Database, customer_id: str, purpose: str) -> bool:
    with db.read() as session:
        return consent.has_consent_txn(session=session, customer_id=customer_id, purpose=purpose)


def test_a_restriction_request_goes_through_the_guard_and_can_be_lifted(
    operator: Operator, db: Database
) -> None:
    customer = operator.enrol(name="Ann")
    member = Member(operator, customer)
    assert member.put("/api/v1/me/consents/partner_transfers", {"granted": True}).status_code == 200
    assert _guard_allows(db, customer, consent.PARTNER_TRANSFERS)
    restricted = member.post(MINE, {"type": "restriction"}).json()["id"]
    assert approve(operator, restricted).json()["state"] == "done"
    assert member.get("/api/v1/me/consents").json()["restricted"] is True
    assert not _guard_allows(db, customer, consent.PARTNER_TRANSFERS)
    # A consent given while restricted is recorded, and still not acted on.
    assert member.put("/api/v1/me/consents/marketing", {"granted": True}).status_code == 200
    assert not _guard_allows(db, customer, consent.MARKETING)
    assert operator.earn(customer, 1000).status_code == 201  # membership goes on

    lifted = member.post(MINE, {"type": "restriction_lift"}).json()["id"]
    assert approve(operator, lifted).json()["state"] == "done"
    assert member.get("/api/v1/me/consents").json()["restricted"] is False
    assert _guard_allows(db, customer, consent.PARTNER_TRANSFERS)
    assert _guard_allows(db, customer, consent.MARKETING)


def test_an_objection_withdraws_marketing_offers_and_profiling(operator: Operator) -> None:
    consents = {"marketing": True, "personalised_offers": True, "profiling": True}
    customer = operator.post(
        "/api/v1/customers", {"name": "Ann", "consents": {**consents, "analytics": True}}
    ).json()["id"]
    member = Member(operator, customer)
    objection = member.post(MINE, {"type": "objection"}).json()["id"]
    assert approve(operator, objection).json()["state"] == "done"
    state = _consents(member)
    assert not state["marketing"] and not state["personalised_offers"] and not state["profiling"]
    assert state["analytics"] is True  # an objection to marketing is not a withdrawal of all


def test_rectification_and_erasure_are_audited_as_the_approver(operator: Operator) -> None:
    customer = operator.enrol(name="Ann", email="ann@example.com")
    member = Member(operator, customer)
    rectify = member.post(
        MINE, {"type": "rectification", "changes": {"email": "ann@new.example.com"}}
    )
    assert rectify.status_code == 201, rectify.text
    assert approve(operator, rectify.json()["id"]).json()["state"] == "done"
    assert (
        operator.post("/api/v1/customers/lookup", {"email": "ann@new.example.com"}).json()[
            "customer_id"
        ]
        == customer
    )
    erase = staff_file(operator, customer, "erasure")
    verify_in_person(operator, erase)
    assert approve(operator, erase).json()["state"] == "done"
    entries = _audit(operator, customer)
    change = [e for e in entries if e["action"] == "profile.change"]
    assert change and change[0]["detail"]["fields"] == ["email"]
    assert change[0]["actor"].startswith("key_")
    executed = [e for e in entries if e["action"] == "erasure.execute"]
    assert len(executed) == 1 and executed[0]["actor"].startswith("key_")
    assert operator.get("/api/v1/audit/verify").json()["ok"] is True


#: Only these two: after three idle years the member is also due as inactive.
ONLY = ["withdrawn_consent", "subject_requests"]


def test_retention_removes_withdrawn_consents_and_closed_requests(
    operator: Operator, db: Database, settings: Settings, clock: ManualClock
) -> None:
    customer = operator.post(
        "/api/v1/customers", {"name": "Ann", "consents": {"marketing": True}}
    ).json()["id"]
    member = Member(operator, customer)
    assert member.put("/api/v1/me/consents/marketing", {"granted": False}).status_code in (
        200,
        201,
    )
    request_id = member.post(MINE, {"type": "access"}).json()["id"]
    approve(operator, request_id)
    clock.advance(timedelta(days=settings.retention_withdrawn_consent_days - 1))
    early = retention.run_retention(
        db, settings, clock=clock, dry_run=False, trigger="cli", actor="test", only=ONLY
    )
    by_name = {c["category"]: c for c in retention.run_json(early)["categories"]}
    assert by_name["withdrawn_consent"]["applied"] == 0
    assert by_name["subject_requests"]["applied"] == 0
    clock.advance(timedelta(days=2))
    late = retention.run_retention(
        db, settings, clock=clock, dry_run=False, trigger="cli", actor="test", only=ONLY
    )
    by_name = {c["category"]: c for c in retention.run_json(late)["categories"]}
    assert by_name["withdrawn_consent"]["applied"] == 2  # the grant and its withdrawal
    assert by_name["subject_requests"]["applied"] == 1
    history = operator.get(f"/api/v1/customers/{customer}/consents/history").json()["items"]
    assert [row for row in history if row["purpose"] == "marketing"] == []
    assert operator.get(f"{STAFF}/{request_id}").status_code == 404
