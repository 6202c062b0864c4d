"""Paid membership KPIs (docs/kpis.md): paid members, renewal rate, churn, fee revenue."""

from __future__ import annotations

from typing import Any

from node.db import Database
from node.services.memberships import advance_memberships
from node.settings import Settings
from tests.node.program.cafe import APPLIED_AT, Till, dk
from tests.node.program.club import club_program, pay


def report(till: Till, **query: str) -> list[dict[str, Any]]:
    params = {"from": "2026-02-01", "to": "2026-04-01", "period": "month", **query}
    response = till.get("/api/v1/kpis/memberships", params=params)
    assert response.status_code == 200, response.text
    return list(response.json()["buckets"])


def test_paid_members_renewals_churn_and_fee_revenue(
    till: Till, db: Database, settings: Settings
) -> None:
    till.at(APPLIED_AT).apply(club_program(), comment="club")
    ann, bo, cleo = (till.join() for _ in range(3))
    till.at(dk(2026, 2, 1, 10))
    pay(till, ann)
    pay(till, bo)
    pay(till.at(dk(2026, 2, 2, 10)), cleo)
    cancelled = till.at(dk(2026, 2, 15, 16)).post(
        f"/api/v1/customers/{bo}/membership/cancel", {"at_once": True}
    )
    assert cancelled.json()["refund"] == 2406
    pay(till.at(dk(2026, 2, 28, 10)), ann)  # renews: next period from 1 March
    advance_memberships(db, settings, now=dk(2026, 3, 10, 12))  # Cleo lapses
    february, march = report(till.at(dk(2026, 4, 2)))

    assert february["paid_members"] == 2  # Ann and Cleo; Bo cancelled
    assert february["fee_revenue"] == 4 * 4900 - 2406
    assert february["renewal_rate"] == {"value": None, "numerator": 0, "denominator": 0}
    assert february["churn"] == {"value": None, "numerator": 1, "denominator": 0}

    assert march["paid_members"] == 1  # Ann
    assert march["fee_revenue"] == 0
    assert march["renewal_rate"] == {"value": 5000, "numerator": 1, "denominator": 2}
    assert march["churn"] == {"value": 5000, "numerator": 1, "denominator": 2}


def test_bad_queries_are_422(till: Till) -> None:
    response = till.get("/api/v1/kpis/memberships", params={"from": "2026-02-01"})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "to"
