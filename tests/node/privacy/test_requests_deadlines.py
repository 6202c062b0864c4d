"""Due dates (one calendar month, clamped), the one extension, overdue lists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from node.clock import ManualClock
from node.services.subject_requests import add_months
from tests.node.conftest import Operator
from tests.node.privacy.helpers import MINE, STAFF, Member, staff_file


@pytest.mark.parametrize(
    ("received", "due"),
    [
        ("2026-03-15", "2026-04-15"),
        ("2026-01-31", "2026-02-28"),
        ("2028-01-31", "2028-02-29"),  # leap year
        ("2026-03-31", "2026-04-30"),
        ("2026-12-20", "2027-01-20"),
        ("2028-02-29", "2028-03-29"),
    ],
)
def test_due_one_calendar_month_after_receipt(received: str, due: str) -> None:
    moment = datetime.fromisoformat(received).replace(hour=10, tzinfo=UTC)
    assert add_months(moment, 1) == datetime.fromisoformat(due).replace(hour=10, tzinfo=UTC)


def test_filing_sets_the_due_date(operator: Operator, clock: ManualClock) -> None:
    clock.set(datetime(2028, 1, 31, 9, tzinfo=UTC))
    body = Member(operator, operator.enrol(name="Ann")).post(MINE, {"type": "access"}).json()
    assert body["due_at"] == "2028-02-29T09:00:00Z" == body["original_due_at"]


def test_an_extension_is_recorded_and_shown_to_the_member(
    operator: Operator, clock: ManualClock
) -> None:
    clock.set(datetime(2026, 1, 31, 9, tzinfo=UTC))
    customer = operator.enrol(name="Ann")
    request_id = staff_file(operator, customer, "access")
    clock.advance(timedelta(days=10))
    extended = operator.post(
        f"{STAFF}/{request_id}/extend", {"months": 2, "reason": "complex request"}
    )
    assert extended.status_code == 200, extended.text
    assert extended.json()["due_at"] == "2026-04-30T09:00:00Z"  # 1 + 2 months, clamped
    seen = Member(operator, customer).get(f"{MINE}/{request_id}").json()
    assert seen["extension"] == {
        "months": 2,
        "reason": "complex request",
        "customer_notified_at": "2026-02-10T09:00:00Z",
    }
    again = operator.post(f"{STAFF}/{request_id}/extend", {"months": 1, "reason": "more"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_extended"


@pytest.mark.parametrize(
    "body",
    [
        {"months": 3, "reason": "x"},
        {"months": 0, "reason": "x"},
        {"months": 1},
        {"months": 1, "reason": ""},
    ],
)
def test_an_extension_needs_one_or_two_months_and_a_reason(
    operator: Operator, body: dict[str, object]
) -> None:
    request_id = staff_file(operator, operator.enrol(name="Ann"))
    refused = operator.post(f"{STAFF}/{request_id}/extend", body)
    assert refused.status_code == 422
    assert operator.get(f"{STAFF}/{request_id}").json()["extension"] is None


def test_no_extension_after_the_first_month(operator: Operator, clock: ManualClock) -> None:
    request_id = staff_file(operator, operator.enrol(name="Ann"))
    clock.advance(timedelta(days=31))
    late = operator.post(f"{STAFF}/{request_id}/extend", {"months": 1, "reason": "busy"})
    assert late.status_code == 409 and late.json()["error"]["code"] == "extension_too_late"


def test_overdue_requests_are_listed(operator: Operator, clock: ManualClock) -> None:
    customer = operator.enrol(name="Ann")
    late = staff_file(operator, customer, "access")
    closed = staff_file(operator, customer, "access")
    operator.post(f"{STAFF}/{closed}/reject", {"reason": "duplicate"})
    clock.advance(timedelta(days=20))
    fresh = staff_file(operator, customer, "erasure")
    assert operator.get(f"{STAFF}?overdue=true").json()["items"] == []
    clock.advance(timedelta(days=15))
    overdue = operator.get(f"{STAFF}?overdue=true").json()["items"]
    assert [item["id"] for item in overdue] == [late]
    assert overdue[0]["overdue"] is True
    assert operator.get(f"{STAFF}/{fresh}").json()["overdue"] is False
