"""Listings of points about to expire: per member for the business, and a member's own."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from node.clock import ManualClock, isoformat
from node.db import Database
from node.secrets import NodeSecrets
from node.settings import Settings
from tests.factories import earn, make_customer, redeem
from tests.node.conftest import Operator

DAY = timedelta(days=1)


def error_of(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    return dict(body["error"])


def test_members_with_points_expiring_soonest_first_a_page_at_a_time(
    operator: Operator,
    db: Database,
    settings: Settings,
    clock: ManualClock,
    node_secrets: NodeSecrets,
) -> None:
    start = clock.now()
    members = [make_customer(db, node_secrets, clock) for _ in range(5)]
    # Member i earns (i + 1) * 10 points on day 10 - 2i, and 5 more on day 20.
    for i, member in reversed(list(enumerate(members))):
        clock.set(start + (10 - 2 * i) * DAY)
        earn(db, settings, clock, member, (i + 1) * 1_000)
    clock.set(start + 20 * DAY)
    for member in members:
        earn(db, settings, clock, member, 500)
    late = make_customer(db, node_secrets, clock)
    earn(db, settings, clock, late, 9_900)  # expires on day 385: outside a 30-day window

    clock.set(start + 350 * DAY)  # the window is (350, 380]
    pages, cursor = [], None
    while True:
        params = {"within_days": "30", "limit": "2", **({"cursor": cursor} if cursor else {})}
        response = operator.get("/api/v1/points/expiring", params=params)
        assert response.status_code == 200, response.text
        pages.append(response.json()["items"])
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break
    assert [len(page) for page in pages] == [2, 2, 1]
    items = [item for page in pages for item in page]
    assert items == [
        {
            "customer_id": members[i],
            "points": (i + 1) * 10,  # the 5 points from day 20 expire on day 385
            "expires_at": isoformat(start + (375 - 2 * i) * DAY),
        }
        for i in reversed(range(5))
    ]

    narrow = operator.get("/api/v1/points/expiring", params={"within_days": "20"}).json()
    assert [(item["customer_id"], item["points"]) for item in narrow["items"]] == [
        (members[4], 50),
        (members[3], 40),
    ]  # (350, 370]: the lots that expire on days 367 and 369

    clock.set(start + 368 * DAY)  # member 4's first lot expired yesterday: it is gone
    later = operator.get("/api/v1/points/expiring").json()["items"]
    day_385 = isoformat(start + 385 * DAY)
    assert later == [
        {
            "customer_id": members[i],
            "points": (i + 1) * 10 + 5,
            "expires_at": isoformat(start + (375 - 2 * i) * DAY),
        }
        for i in (3, 2, 1, 0)
    ] + sorted(
        [
            {"customer_id": members[4], "points": 5, "expires_at": day_385},
            {"customer_id": late, "points": 99, "expires_at": day_385},
        ],
        key=lambda item: item["customer_id"],
    )


def test_a_members_own_lots_expiring_soonest_first(
    operator: Operator,
    db: Database,
    settings: Settings,
    clock: ManualClock,
    node_secrets: NodeSecrets,
) -> None:
    start = clock.now()
    ann = operator.enrol()
    operator.earn(ann, 3_000)
    clock.advance(10 * DAY)
    operator.earn(ann, 2_000)
    clock.advance(50 * DAY)
    operator.earn(ann, 7_000)
    redeem(db, clock, ann, 5)
    clock.set(start + 350 * DAY)

    body = operator.get(f"/api/v1/customers/{ann}/expiring").json()
    assert body == {
        "customer_id": ann,
        "within_days": 30,
        "points": 45,
        "lots": [
            {
                "points": 25,
                "earned_at": isoformat(start),
                "expires_at": isoformat(start + 365 * DAY),
            },
            {
                "points": 20,
                "earned_at": isoformat(start + 10 * DAY),
                "expires_at": isoformat(start + 375 * DAY),
            },
        ],
    }
    one = operator.get(f"/api/v1/customers/{ann}/expiring", params={"limit": "1"}).json()
    assert one["points"] == 45 and len(one["lots"]) == 1
    wide = operator.get(f"/api/v1/customers/{ann}/expiring", params={"within_days": "90"}).json()
    assert wide["points"] == 115 and len(wide["lots"]) == 3

    token = operator.post(f"/api/v1/customers/{ann}/tokens").json()["token"]
    mine = operator.client.get("/api/v1/me/expiring", headers={"Authorization": f"Bearer {token}"})
    assert mine.status_code == 200 and mine.json() == body
    assert operator.get("/api/v1/me/expiring").status_code == 401  # an API key is not a member

    nobody = operator.get("/api/v1/customers/cus_nobody/expiring")
    assert nobody.status_code == 404 and error_of(nobody)["field"] == "customer_id"


def test_no_points_expiring_is_an_empty_answer(operator: Operator) -> None:
    ann = operator.enrol()
    assert operator.get("/api/v1/points/expiring").json() == {"items": [], "next_cursor": None}
    body = operator.get(f"/api/v1/customers/{ann}/expiring").json()
    assert body == {"customer_id": ann, "within_days": 30, "points": 0, "lots": []}


@pytest.mark.parametrize(
    ("path", "params", "status", "field"),
    [
        ("/api/v1/points/expiring", {"within_days": "0"}, 422, "within_days"),
        ("/api/v1/points/expiring", {"within_days": "3661"}, 422, "within_days"),
        ("/api/v1/points/expiring", {"within_days": "soon"}, 422, "within_days"),
        ("/api/v1/points/expiring", {"limit": "0"}, 422, "limit"),
        ("/api/v1/points/expiring", {"limit": "501"}, 422, "limit"),
        ("/api/v1/points/expiring", {"days": "3"}, 422, "days"),
        ("/api/v1/points/expiring", {"cursor": "zz"}, 400, "cursor"),
        ("/api/v1/points/expiring", {"cursor": "YWZ0ZXI6eA"}, 400, "cursor"),
        ("/api/v1/points/expiring", {"cursor": "x" * 201}, 422, "cursor"),
        ("/api/v1/customers/{id}/expiring", {"within_days": "-1"}, 422, "within_days"),
        ("/api/v1/customers/{id}/expiring", {"limit": "1.5"}, 422, "limit"),
        ("/api/v1/customers/{id}/expiring", {"cursor": "a"}, 422, "cursor"),
    ],
)
def test_bad_queries_are_refused(
    operator: Operator, path: str, params: dict[str, str], status: int, field: str
) -> None:
    ann = operator.enrol()
    response = operator.get(path.replace("{id}", ann), params=params)
    assert response.status_code == status, response.text
    assert error_of(response)["field"] == field
