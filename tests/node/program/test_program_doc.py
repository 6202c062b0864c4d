"""docs/program.md stays true: its program file loads, every example has its test,
and every validation error it lists comes out as it says."""

from __future__ import annotations

import json
import re
import tomllib
from datetime import UTC, datetime

import pytest

from node.errors import ValidationFailed
from node.program import load_program_file
from tests.node.program import test_worked_examples
from tests.node.program.cafe import DOC, Till, cafe_program, doc_program_text, error_of


def test_the_doc_program_loads_as_the_doc_describes_it() -> None:
    program = load_program_file(doc_program_text())
    assert program.earn.points_per_unit == 1
    assert program.earn.minimum_purchase == 2000
    assert program.earn.categories == {"beans": 200, "pastry": 150, "merch": 50}
    assert [c.code for c in program.campaigns] == ["double-weekend", "members-week", "cake-month"]
    weekend = program.campaigns[0]
    assert weekend.starts_at == datetime(2026, 3, 6, 23, tzinfo=UTC)
    assert weekend.ends_at == datetime(2026, 3, 8, 23, tzinfo=UTC)
    assert program.campaigns[1].tiers == ["gold", "platinum"]
    assert program.campaigns[1].stackable is False
    assert program.campaigns[2].ends_at == datetime(2026, 3, 31, 22, tzinfo=UTC)
    levels = program.tiers.levels
    assert [(t.code, t.threshold, t.multiplier_percent) for t in levels] == [
        ("bronze", 0, 100),
        ("silver", 150000, 110),
        ("gold", 400000, 125),
        ("platinum", 1000000, 150),
    ]
    assert (program.tiers.window_days, program.tiers.review_interval_days) == (365, 30)
    assert program.tiers.grace_days == 30
    bonuses = program.bonuses
    assert (bonuses.enrolment_points, bonuses.birthday_points) == (50, 100)
    assert (bonuses.referrer_points, bonuses.referred_points) == (100, 50)
    assert (program.cashback.basis_points, program.cashback.minimum_purchase) == (200, 10000)
    assert (program.expiry.days, program.expiry.warn_days) == (365, 30)
    assert [(r.code, r.points) for r in program.rewards] == [
        ("free-coffee", 40),
        ("beans-bag", 250),
    ]


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")


def test_every_worked_example_has_its_test_and_every_test_its_example() -> None:
    headings = re.findall(r"^### (Example (\d+): .+)$", DOC.read_text(), re.MULTILINE)
    numbers = [int(number) for _, number in headings]
    assert numbers == list(range(1, len(numbers) + 1)), "examples are numbered 1, 2, 3, ..."
    expected = {f"test_{_slug(title)}" for title, _ in headings}
    written = {name for name in dir(test_worked_examples) if name.startswith("test_example_")}
    assert expected - written == set(), "examples without a test"
    assert written - expected == set(), "tests without an example"


def test_every_section_of_the_table_of_contents_exists() -> None:
    text = DOC.read_text()
    anchors = re.findall(r"^- \[[^\]]+\]\(#([^)]+)\)$", text, re.MULTILINE)
    headings = {
        re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        for heading in re.findall(r"^## (.+)$", text, re.MULTILINE)
    }
    assert anchors and set(anchors) <= headings


def _with(old: str, new: str, count: int = 1) -> str:
    text = doc_program_text()
    assert old in text, old
    return text.replace(old, new, count)


# The rows of the table in docs/program.md, "Validation errors".
VALIDATION_TABLE = [
    (
        _with("points_per_unit = 1", "point_per_unit = 1"),
        "earn.point_per_unit",
        "earn.point_per_unit: unknown field",
    ),
    (
        _with("beans = 200", "beans = 1.5"),
        "earn.categories.beans",
        "earn.categories.beans: Input should be a valid integer",
    ),
    (
        _with('code = "free-coffee"', 'code = "Free Coffee"'),
        "rewards.0.code",
        "rewards.0.code: use lowercase letters, digits, - and _ (at most 40)",
    ),
    (
        _with("threshold = 0 ", "threshold = 100 "),
        "tiers",
        "tiers: the first tier is the entry tier: its threshold must be 0",
    ),
    (
        _with("threshold = 150000", "threshold = 500000"),
        "tiers",
        "tiers: tier thresholds must rise strictly, lowest first",
    ),
    (
        _with(
            "ends_at = 2026-03-09T00:00:00+01:00    # until",
            "ends_at = 2026-03-06T00:00:00+01:00    # until",
        ),
        "campaigns.0",
        "campaigns.0: ends_at must be after starts_at",
    ),
    (
        _with('tiers = ["gold", "platinum"]', 'tiers = ["gold", "diamond"]'),
        "campaigns.1.tiers",
        "campaigns.1.tiers: no tier 'diamond'",
    ),
    (
        _with("multiplier_percent = 200\n", "multiplier_percent = 100\n"),
        "campaigns.0.multiplier_percent",
        "campaigns.0.multiplier_percent: Input should be greater than 100",
    ),
    (
        _with("basis_points = 200 ", "basis_points = 20000 "),
        "cashback.basis_points",
        "cashback.basis_points: Input should be less than or equal to 10000",
    ),
]


@pytest.mark.parametrize(("text", "field", "message"), VALIDATION_TABLE)
def test_validation_errors_name_the_field(text: str, field: str, message: str) -> None:
    with pytest.raises(ValidationFailed) as raised:
        load_program_file(text)
    assert (raised.value.field, raised.value.message) == (field, message)


@pytest.mark.parametrize(("text", "field", "message"), VALIDATION_TABLE)
def test_the_api_refuses_the_same_programs_with_422(
    cafe: Till, text: str, field: str, message: str
) -> None:
    program = json.loads(json.dumps(tomllib.loads(text), default=datetime.isoformat))
    for send in (cafe.client.put, cafe.client.post):
        path = "/api/v1/program" if send == cafe.client.put else "/api/v1/program/validate"
        response = send(
            path,
            json={"program": program},
            headers={**cafe.auth, "Idempotency-Key": f"bad-{field}"},
        )
        assert response.status_code == 422, response.text
        assert error_of(response) == {
            "code": "validation_failed",
            "message": message,
            "field": f"program.{field}",
        }
    assert cafe.get("/api/v1/program").json()["version"] == 1


def test_a_file_that_is_not_toml_is_refused() -> None:
    with pytest.raises(ValidationFailed) as raised:
        load_program_file(_with("[earn]", "[earn"))
    assert raised.value.message.startswith("the program file is not valid TOML:")


def test_a_time_without_offset_names_its_field() -> None:
    text = _with("starts_at = 2026-03-07T00:00:00+01:00", "starts_at = 2026-03-07T00:00:00")
    with pytest.raises(ValidationFailed) as raised:
        load_program_file(text)
    assert raised.value.field == "campaigns.0.starts_at"
    assert "UTC offset" in raised.value.message


def test_a_code_used_twice_names_the_list() -> None:
    with pytest.raises(ValidationFailed) as raised:
        load_program_file(_with('code = "beans-bag"', 'code = "free-coffee"'))
    assert raised.value.field is not None and raised.value.field.startswith("rewards")


def test_a_bad_category_name_names_the_category() -> None:
    with pytest.raises(ValidationFailed) as raised:
        load_program_file(_with("beans = 200", "Beans = 200"))
    assert raised.value.field == "earn.categories.Beans"


def test_every_field_of_the_doc_program_survives_the_api(cafe: Till) -> None:
    stored = cafe.get("/api/v1/program").json()
    assert stored["version"] == 1
    assert stored["program"] == cafe_program().model_dump(mode="json")
