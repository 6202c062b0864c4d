"""GET /api/v1/kpis as the admin UI sees it: a till's day in, the KPIs out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from node.clock import ManualClock
from node.services.kpis import DEFINITIONS
from tests.node.conftest import Operator

KPIS = "/api/v1/kpis"


def error_of(response: object) -> dict[str, object]:
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "field"}
    return dict(body["error"])


def ratio(value: int | None, numerator: int, denominator: int) -> dict[str, int | None]:
    return {"value": value, "numerator": numerator, "denominator": denominator}


def test_kpis_over_the_operator_api(operator: Operator, clock: ManualClock) -> None:
    # Monday 2 March 2026: Ann enrols, buys for 120.00 and 80.00 DKK, and spends 50 points.
    clock.set(datetime(2026, 3, 2, 9, tzinfo=UTC))
    ann = operator.enrol()
    assert operator.earn(ann, 12_000).status_code == 201
    assert operator.earn(ann, 8_000).status_code == 201
    redeemed = operator.post(f"/api/v1/customers/{ann}/redemptions", {"points": 50})
    assert redeemed.status_code == 201
    # Exactly at the start of the next week, Bo enrols and buys for 45.50 DKK.
    clock.set(datetime(2026, 3, 9, tzinfo=UTC))
    bo = operator.enrol()
    assert operator.earn(bo, 4_550).status_code == 201
    clock.advance(timedelta(days=1))
    assert operator.earn(ann, 1_000).status_code == 201

    response = operator.get(
        KPIS, params={"from": "2026-03-02", "to": "2026-03-23", "period": "week"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["period"] == "week" and body["tz"] == "UTC"
    assert (body["from"], body["to"]) == ("2026-03-02", "2026-03-23")
    assert body["definitions"] == DEFINITIONS
    first, second, third = body["buckets"]
    assert first == {
        "start": "2026-03-02",
        "end": "2026-03-09",
        "enrolments": 1,
        "active_members": 1,
        "retention_rate": ratio(None, 0, 0),
        "redemption_rate": ratio(2_500, 50, 200),  # 50 of 120 + 80 points
        "average_order_value": ratio(10_000, 20_000, 2),
        "customer_lifetime_value": ratio(20_000, 20_000, 1),
        "engagement": ratio(30_000, 3, 1),  # two purchases and a redemption
    }
    assert second == {
        "start": "2026-03-09",
        "end": "2026-03-16",
        "enrolments": 1,
        "active_members": 2,
        "retention_rate": ratio(10_000, 1, 1),
        "redemption_rate": ratio(0, 0, 55),  # 45 + 10 points
        "average_order_value": ratio(2_775, 5_550, 2),
        "customer_lifetime_value": ratio(12_775, 25_550, 2),
        "engagement": ratio(10_000, 2, 2),
    }
    assert third["active_members"] == 0 and third["retention_rate"] == ratio(0, 0, 2)
    assert body["totals"] == {
        "enrolments": 2,
        "active_members": 2,
        "retention_rate": ratio(3_333, 1, 3),
        "redemption_rate": ratio(1_960, 50, 255),
        "average_order_value": ratio(6_387, 25_550, 4),
        "customer_lifetime_value": ratio(12_775, 25_550, 2),
        "engagement": ratio(25_000, 5, 2),
    }


def test_month_is_the_default_period_and_tz_moves_the_boundaries(
    operator: Operator, clock: ManualClock
) -> None:
    clock.set(datetime(2026, 1, 31, 23, 30, tzinfo=UTC))  # 1 February, 00:30 in Oslo
    operator.enrol()
    params = {"from": "2026-01-01", "to": "2026-03-01"}
    utc = operator.get(KPIS, params=params).json()
    assert utc["period"] == "month"
    assert [b["enrolments"] for b in utc["buckets"]] == [1, 0]
    oslo = operator.get(KPIS, params={**params, "tz": "Europe/Oslo"}).json()
    assert oslo["tz"] == "Europe/Oslo"
    assert [b["enrolments"] for b in oslo["buckets"]] == [0, 1]


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"from": "2026-03-01", "to": "2026-03-01"}, "to", "to: must be after from"),
        ({"from": "2026-03-01", "to": "2026-01-01"}, "to", "to: must be after from"),
        (
            {"from": "2026-01-01", "to": "2027-03-01", "period": "day"},
            "to",
            "to: at most 400 buckets per report; choose a longer period or a shorter range",
        ),
        (
            {"from": "2026-01-01", "to": "2026-03-01", "period": "fortnight"},
            "period",
            "period: Input should be 'day', 'week', 'month', 'quarter' or 'year'",
        ),
        ({"from": "2026-1-1", "to": "2026-03-01"}, "from", "from: a date as YYYY-MM-DD"),
        ({"from": "1767225600", "to": "2026-03-01"}, "from", "from: a date as YYYY-MM-DD"),
        ({"from": "2026-01-01T00:00:00Z", "to": "2026-03-01"}, "from", None),
        ({"from": "2026-02-30", "to": "2026-03-01"}, "from", None),
        ({"to": "2026-03-01"}, "from", "from: Field required"),
        ({"from": "2026-01-01"}, "to", "to: Field required"),
        ({"from": "1960-01-01", "to": "2026-03-01"}, "from", "from: on or after 1970-01-01"),
        (
            {"from": "2026-01-01", "to": "2026-03-01", "tz": "Mars/Olympus"},
            "tz",
            "tz: not a known IANA time zone",
        ),
        ({"from": "2026-01-01", "to": "2026-03-01", "tz": "../etc"}, "tz", None),
        ({"from": "2026-01-01", "to": "2026-03-01", "group": "x"}, "group", "group: unknown field"),
    ],
)
def test_bad_queries_are_422(
    operator: Operator, params: dict[str, str], field: str, message: str | None
) -> None:
    response = operator.get(KPIS, params=params)
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "validation_failed" and error["field"] == field
    if message is not None:
        assert error["message"] == message


def test_kpis_need_an_api_key(operator: Operator) -> None:
    response = operator.client.get(KPIS, params={"from": "2026-01-01", "to": "2026-02-01"})
    assert response.status_code == 401


def test_the_openapi_document_lists_the_query(operator: Operator) -> None:
    spec = operator.client.get("/openapi.json").json()
    operation = spec["paths"]["/api/v1/kpis"]["get"]
    assert [p["name"] for p in operation["parameters"]] == ["from", "to", "period", "tz"]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/KpiReportOut"
    }
