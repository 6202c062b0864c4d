"""The Art. 30 record is generated from the node: purposes with their wording in
force, retention as configured, and the consortium's members as recipients."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from node.cli import main
from tests.node.conftest import Operator
from tests.node.federation.conftest import Consortium

RECORDS = "/api/v1/privacy/records-of-processing"


def test_the_record_follows_the_purposes_and_retention_in_force(operator: Operator) -> None:
    first = operator.get(RECORDS).json()
    marketing = next(p for p in first["purposes"] if p["purpose"] == "marketing")
    assert marketing["legal_basis"].startswith("consent") and marketing["wording_version"] == 1
    membership = next(p for p in first["purposes"] if p["purpose"] == "membership")
    assert membership["legal_basis"].startswith("contract")
    published = operator.post(
        "/api/v1/consent/purposes",
        {"purpose": "marketing", "title": "Marketing", "text": "News by email, monthly."},
    )
    assert published.status_code == 201, published.text
    second = operator.get(RECORDS).json()
    marketing = next(p for p in second["purposes"] if p["purpose"] == "marketing")
    assert marketing["wording_version"] == 2 and marketing["wording"] == "News by email, monthly."
    policies = {p["category"]: p for p in second["retention"]}
    assert policies["inactive_customers"]["duration"] == 1095
    assert second["recipients"] == []  # no consortium manifest on this node


def test_the_record_lists_partners_as_recipients(consortium: Consortium) -> None:
    cafe = consortium["cafe"]
    found = cafe.client.get(RECORDS, headers=cafe.operator()).json()
    assert sorted(r["node_id"] for r in found["recipients"]) == ["bookshop", "charity"]
    assert all("pseudonym" in r["receives"] for r in found["recipients"])
    markdown = cafe.client.get(RECORDS, params={"format": "markdown"}, headers=cafe.operator())
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert "## Recipients" in markdown.text and "`bookshop`" in markdown.text


def test_a_bad_format_is_422(operator: Operator) -> None:
    refused = operator.get(RECORDS, params={"format": "pdf"})
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "format"


def test_the_command_prints_the_record(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    argv = ["--data-dir", str(tmp_path / "node")]
    assert main([*argv, "init"]) == 0
    capsys.readouterr()
    assert main([*argv, "privacy", "records"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("# Record of processing activities")
    assert "## Time limits for erasure" in text
    assert main([*argv, "privacy", "records", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert "bookkeeping" in {p["purpose"] for p in record["purposes"]}
    assert record["recipients"] == []
