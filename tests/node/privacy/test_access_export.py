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


def test_the_export_lists_each_purchase_line_with_its_product(operator: Operator) -> None:
    ann = operator.enrol(name="Ann")
    lines = [
        {"category": "beans", "product": "BEANS-ETH-250", "amount": 9000},
        {"category": "pastry", "amount": 3000},
    ]
    earned = operator.post(
        f"/api/v1/customers/{ann}/purchases",
        {"amount": 12000, "order_ref": "o-7", "lines": lines},
    )
    assert earned.status_code == 201, earned.text
    bob = operator.enrol(name="Bob")
    operator.post(
        f"/api/v1/customers/{bob}/purchases",
        {"amount": 500, "lines": [{"product": "BOB-ONLY", "amount": 500}]},
    )
    member = Member(operator, ann)
    request_id = member.post(MINE, {"type": "portability"}).json()["id"]
    approve(operator, request_id)
    archive = zipfile.ZipFile(io.BytesIO(member.get(f"{MINE}/{request_id}/export").content))
    sections = json.loads(archive.read("export.json"))["sections"]
    transaction = earned.json()["transaction"]["id"]
    assert [row["transaction_id"] for row in sections["purchases"]] == [transaction]
    assert [
        (r["transaction_id"], r["order_ref"], r["category"], r["product"], r["amount"])
        for r in sections["purchase_lines"]
    ] == [
        (transaction, "o-7", "beans", "BEANS-ETH-250", 9000),
        (transaction, "o-7", "pastry", None, 3000),
    ]
    rows = list(csv.DictReader(io.StringIO(archive.read("purchase_lines.csv").decode())))
    assert [(row["product"], row["amount"]) for row in rows] == [
        ("BEANS-ETH-250", "9000"),
        ("", "3000"),
    ]
    assert b"BOB-ONLY" not in archive.read("export.json")
