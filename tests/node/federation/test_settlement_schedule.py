"""The settlement job: each closed period with entries is stated once per partner.

Ann moves 500 café points to the bookshop on Monday 2 March 2026 (value
24,960 øre, the bookshop is owed it). With daily periods, the café's period
``[2026-03-02, 2026-03-03)`` closes seven days after its end, on 10 March at
midnight; the job then states it once, and the bookshop answers agreed.
"""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from node import jobs
from node.services.settlement_schedule import ScheduleReport, send_due_statements
from tests.node.federation.conftest import START, Consortium, Node

CLOSED = datetime(2026, 3, 10, tzinfo=UTC)
DAY = 86_400


def transfer(consortium: Consortium, customer: str, points: int) -> None:
    cafe = consortium["cafe"]
    moved = cafe.client.post(
        "/api/v1/me/transfers",
        json={"partner": "bookshop", "points": points},
        headers={**cafe.token(customer), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert moved.status_code == 202, moved.text


def periods(node: Node) -> list[dict[str, Any]]:
    found = node.client.get("/api/v1/settlement/periods", headers=node.operator())
    assert found.status_code == 200, found.text
    return list(found.json()["items"])


def run_job(node: Node) -> None:
    asyncio.run(jobs.send_settlement_statements(node.app.state.node))


def due(node: Node, now: datetime) -> ScheduleReport:
    return send_due_statements(node.db, node.federation, period_seconds=DAY, now=now)


@pytest.fixture
def ann(consortium: Consortium) -> str:
    """Ann (café) is linked to the bookshop, with 1,000 café points."""
    cafe, bookshop = consortium["cafe"], consortium["bookshop"]
    ann_cafe, ann_books = cafe.enrol(), bookshop.enrol()
    cafe.earn(ann_cafe, 100_000)
    consortium.link("cafe", ann_cafe, "bookshop", ann_books)
    return ann_cafe


def test_the_job_states_a_closed_period_once_and_the_partner_agrees(
    consortium: Consortium, ann: str
) -> None:
    cafe = consortium["cafe"]
    transfer(consortium, ann, 500)
    consortium.settle()
    consortium.clock.advance(CLOSED - timedelta(seconds=1) - consortium.clock.now())
    run_job(cafe)
    assert periods(cafe) == []  # the period closes at midnight

    consortium.clock.advance(timedelta(seconds=1))
    run_job(cafe)
    run_job(cafe)

    [period] = periods(cafe)
    assert (period["partner"], period["period_start"], period["period_end"]) == (
        "bookshop",
        "2026-03-02T00:00:00Z",
        "2026-03-03T00:00:00Z",
    )
    assert (period["state"], period["net_minor"]) == ("awaiting_answer", -24_960)
    assert len(period["statements"]) == 1
    consortium.settle()
    [period] = periods(cafe)
    assert period["state"] == "agreed"
    assert period["statements"][0]["outcome"] == "agreed"
    run_job(cafe)
    assert len(periods(cafe)[0]["statements"]) == 1


def test_each_side_states_its_own_periods_and_empty_partners_get_none(
    consortium: Consortium, ann: str
) -> None:
    cafe, bookshop, charity = consortium["cafe"], consortium["bookshop"], consortium["charity"]
    transfer(consortium, ann, 500)
    consortium.settle()
    consortium.clock.advance(timedelta(days=1))
    transfer(consortium, ann, 100)  # Tuesday: a second period
    consortium.settle()
    consortium.clock.advance(CLOSED + timedelta(days=1) - consortium.clock.now())

    stated = due(bookshop, consortium.clock.now())

    assert [(p, s - unix_start()) for p, s, _ in stated.stated] == [("cafe", 0), ("cafe", DAY)]
    assert due(charity, consortium.clock.now()).stated == []
    consortium.settle()
    assert {p["state"] for p in periods(bookshop)} == {"agreed"}
    assert {p["net_minor"] for p in periods(bookshop)} == {24_960, 4_920}
    assert periods(cafe) == []  # the café's job did not run


def test_two_processes_running_the_job_state_a_period_once(
    consortium: Consortium, ann: str
) -> None:
    cafe = consortium["cafe"]
    transfer(consortium, ann, 500)
    consortium.settle()
    consortium.clock.advance(CLOSED - consortium.clock.now())

    with ThreadPoolExecutor(2) as pool:
        reports = list(pool.map(lambda _: due(cafe, CLOSED), range(2)))

    assert sum(len(r.stated) for r in reports) == 1
    [period] = periods(cafe)
    assert len(period["statements"]) == 1
    consortium.settle()
    assert periods(cafe)[0]["state"] == "agreed"


def test_a_period_with_an_unanswered_transfer_waits_for_a_later_run(
    consortium: Consortium, ann: str
) -> None:
    cafe = consortium["cafe"]
    transfer(consortium, ann, 500)
    consortium.settle()
    consortium.router.down.add("bookshop.test")
    transfer(consortium, ann, 100)  # no answer while the bookshop is down
    consortium.settle()
    consortium.clock.advance(CLOSED - consortium.clock.now())

    waiting = due(cafe, CLOSED)

    assert (waiting.stated, len(waiting.waiting)) == ([], 1)
    assert periods(cafe) == []
    consortium.router.down.clear()
    consortium.settle()  # answered expired: rejected, refunded
    stated = due(cafe, consortium.clock.now())
    assert len(stated.stated) == 1
    consortium.settle()
    [period] = periods(cafe)
    assert (period["state"], period["net_minor"]) == ("agreed", -24_960)


def test_a_period_stated_by_hand_is_left_to_the_operator(consortium: Consortium, ann: str) -> None:
    cafe = consortium["cafe"]
    transfer(consortium, ann, 500)
    consortium.settle()
    consortium.clock.advance(CLOSED + timedelta(days=5) - consortium.clock.now())
    by_hand = cafe.client.post(
        "/api/v1/settlement/statements",
        json={
            "partner": "bookshop",
            "period_start": "2026-03-01T00:00:00Z",
            "period_end": "2026-03-08T00:00:00Z",
        },
        headers={**cafe.operator(), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert by_hand.status_code == 202, by_hand.text

    run_job(cafe)

    assert [p["period_start"] for p in periods(cafe)] == ["2026-03-01T00:00:00Z"]


def test_a_period_too_large_for_one_statement_is_halved(consortium: Consortium, ann: str) -> None:
    cafe = consortium["cafe"]
    cafe.earn(ann, 1_000_000)
    for _ in range(130):  # more entries than one statement message holds
        transfer(consortium, ann, 3)
        consortium.settle()  # one message each (a batch's items share its iat)
        consortium.clock.advance(timedelta(minutes=5))
    consortium.clock.advance(CLOSED - consortium.clock.now())

    report = due(cafe, CLOSED)

    assert len(report.stated) >= 2
    bounds = sorted((s, e) for _, s, e in report.stated)
    assert bounds[0][0] == unix_start() and bounds[-1][1] == unix_start() + DAY
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:], strict=False))
    consortium.settle()
    found = periods(cafe)
    assert {p["state"] for p in found} == {"agreed"}
    assert sum(p["statements"][0]["entries"] for p in found) == 130
    assert sum(p["net_minor"] for p in found) == -130 * 120  # 3 café points buy 1 bookshop point


def unix_start() -> int:
    """The start of the period of START (Monday 2 March 2026, midnight UTC)."""
    return int(START.replace(hour=0).timestamp())
