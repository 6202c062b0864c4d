"""The access export zip: JSON plus CSVs, the member's own data and nobody else's."""

from __future__ import annotations

import csv
import io
import json
import zipfile

from tests.node.conftest import Operator
from tests.node.privacy.helpers import MINE, STAFF, Member, approve, staff_file


def _export(operator: Operator) -> tuple[Member, str, zipfile.ZipFile]:
    ann = operator.enrol(name="Ann Aker", email="ann@example.com", phone="+45 1234 5678")
    bob = operator.enrol(name="Bob Berg", email="bob@example.com")
    for customer in (ann, bob):
        assert operator.earn(customer, 15000).status_code == 201
    operator.post(f"/api/v1/customers/{ann}/redemptions", {"points": 40})
    member = Member(operator, ann)
    request_id = member.post(MINE, {"type": "access"}).json()["id"]
    assert approve(operator, request_id).json()["export_available"] is True
    response = member.get(f"{MINE}/{request_id}/export")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    disposition = response.headers["content-disposition"]
    assert request_id in disposition and "Ann" not in disposition and "ann" not in disposition
    return member, bob, zipfile.ZipFile(io.BytesIO(response.content))


def test_the_export_holds_json_and_one_csv_per_section(operator: Operator) -> None:
    member, bob, archive = _export(operator)
    names = set(archive.namelist())
    assert {"export.json", "profile.csv", "account.csv", "ledger.csv", "point_lots.csv"} <= names
    assert {"purchases.csv", "vouchers.csv", "links.csv", "requests.csv"} <= names
    assert "partners_that_received_anything.csv" in names
    document = json.loads(archive.read("export.json"))
    assert document["schema_version"] == 1 and document["node_id"] == "cafe"
    assert document["customer_id"] == member.id
    profile = document["sections"]["profile"]
    assert profile == [
        {"name": "Ann Aker", "email": "ann@example.com", "phone": "+45 1234 5678", "birthday": None}
    ]
    balance = member.get("/api/v1/me/balance").json()["points"]
    customer_entries = [
        row for row in document["sections"]["ledger"] if row["account"] == f"customer:{member.id}"
    ]
    assert balance > 0 and sum(row["amount"] for row in customer_entries) == balance
    rows = list(csv.DictReader(io.StringIO(archive.read("ledger.csv").decode())))
    assert sum(int(row["amount"]) for row in rows if row["account"].startswith("customer:")) == (
        balance
    )
    assert len(document["sections"]["purchases"]) == 1
    assert [r["type"] for r in document["sections"]["requests"]] == ["access"]


def test_the_export_holds_nothing_about_other_members(operator: Operator) -> None:
    _, bob, archive = _export(operator)
    for name in archive.namelist():
        text = archive.read(name).decode()
        assert bob not in text and "Bob" not in text and "bob@" not in text


def test_no_export_before_approval_or_for_other_types(operator: Operator) -> None:
    customer = operator.enrol(name="Ann")
    member = Member(operator, customer)
    pending = staff_file(operator, customer, "access")
    refused = operator.get(f"{STAFF}/{pending}/export")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "export_not_available"
    objection = member.post(MINE, {"type": "objection"}).json()["id"]
    approve(operator, objection)
    assert member.get(f"{MINE}/{objection}/export").status_code == 409


def test_a_member_cannot_download_another_members_export(operator: Operator) -> None:
    ann = Member(operator, operator.enrol(name="Ann"))
    request_id = ann.post(MINE, {"type": "portability"}).json()["id"]
    approve(operator, request_id)
    bob = Member(operator, operator.enrol(name="Bob"))
    assert bob.get(f"{MINE}/{request_id}/export").status_code == 404
    staff = operator.get(f"{STAFF}/{request_id}/export")
    assert staff.status_code == 200 and staff.content[:2] == b"PK"
