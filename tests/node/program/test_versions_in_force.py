"""Program versions: numbered, kept for good, and the one in force when a purchase was paid."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from node.db import Database
from node.services.verification import verify_ledger
from tests.node.program.cafe import APPLIED_AT, Till, cafe_program, dk, error_of


def _beans(percent: int) -> dict[str, Any]:
    program = cafe_program().model_dump(mode="json")
    program["earn"]["categories"]["beans"] = percent
    return program


def test_each_purchase_earns_by_the_version_in_force_when_it_was_paid(
    cafe: Till, db: Database
) -> None:
    nora = cafe.at(dk(2026, 3, 20)).join()
    cafe.at(dk(2026, 4, 1, 8)).apply(_beans(300))
    cafe.at(dk(2026, 4, 10, 8)).apply(_beans(400))
    cafe.at(dk(2026, 4, 12))
    paid = {
        "before any program (version 0: the settings)": (dk(2026, 1, 20), 0, 120),
        "a minute before version 1": (APPLIED_AT - timedelta(minutes=1), 0, 120),
        "the moment version 1 was applied": (APPLIED_AT, 1, 240),
        "the day before version 2": (dk(2026, 3, 31, 16), 1, 240),
        "under version 2": (dk(2026, 4, 5), 2, 360),
        "under version 3": (dk(2026, 4, 11), 3, 480),
    }
    for when, version, points in paid.values():
        bought = cafe.buy(nora, lines={"beans": 12000}, occurred_at=when)
        assert (bought["earning"]["program_version"], bought["transaction"]["points"]) == (
            version,
            points,
        ), when
    now = cafe.buy(nora, lines={"beans": 12000})
    assert (now["earning"]["program_version"], now["transaction"]["points"]) == (3, 480)
    assert verify_ledger(db).ok


def test_campaigns_follow_the_time_of_payment_not_of_sending(cafe: Till) -> None:
    cleo = cafe.at(dk(2026, 3, 2)).join()
    cafe.at(dk(2026, 3, 10, 9))
    late = cafe.buy(cleo, 10000, occurred_at=dk(2026, 3, 8, 15))
    assert late["transaction"]["points"] == 200
    assert late["earning"]["campaigns"] == ["double-weekend"]
    on_time = cafe.buy(cleo, 10000)
    assert (on_time["transaction"]["points"], on_time["earning"]["campaigns"]) == (100, [])


def test_occurred_at_is_at_most_90_days_back_and_not_in_the_future(cafe: Till) -> None:
    ann = cafe.at(dk(2026, 5, 10)).join()
    path = f"/api/v1/customers/{ann}/purchases"
    for when in (dk(2026, 5, 10) + timedelta(minutes=6), dk(2026, 5, 10) - timedelta(days=91)):
        refused = cafe.post(path, {"amount": 5000, "occurred_at": when.isoformat()})
        assert refused.status_code == 422
        assert error_of(refused)["field"] == "occurred_at"
    naive = cafe.post(path, {"amount": 5000, "occurred_at": "2026-05-09T12:00:00"})
    assert naive.status_code == 422 and error_of(naive)["field"] == "occurred_at"
    assert cafe.balance(ann)["points"] == 50


def test_a_retried_put_makes_one_version(till: Till) -> None:
    till.at(APPLIED_AT)
    body = {"program": cafe_program().model_dump(mode="json"), "comment": "first"}
    headers = {**till.auth, "Idempotency-Key": "program-1"}
    first = till.client.put("/api/v1/program", json=body, headers=headers)
    again = till.client.put("/api/v1/program", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    other = till.client.put("/api/v1/program", json={**body, "comment": "other"}, headers=headers)
    assert other.status_code == 409 and error_of(other)["code"] == "idempotency_key_reused"
    versions = till.get("/api/v1/program/versions").json()
    assert [item["version"] for item in versions["items"]] == [1]


def test_versions_are_listed_newest_first_with_what_changed(till: Till) -> None:
    assert till.get("/api/v1/program").json()["version"] == 0
    first = till.at(APPLIED_AT).apply(cafe_program(), comment="first program")
    assert first["version"] == 1 and first["comment"] == "first program"
    assert first["actor"].startswith("key_")
    assert "earn.categories.beans" in first["changed"] and "tiers.levels.gold" in first["changed"]
    till.at(dk(2026, 4, 1, 8)).apply(_beans(300), comment="beans triple")
    without_weekend = _beans(300)
    del without_weekend["campaigns"][0]
    third = till.at(dk(2026, 4, 2, 8)).apply(without_weekend)
    assert third["changed"] == ["campaigns.double-weekend"]
    page = till.get("/api/v1/program/versions", params={"limit": "2"}).json()
    assert [(i["version"], i["comment"], i["changed"]) for i in page["items"]] == [
        (3, None, ["campaigns.double-weekend"]),
        (2, "beans triple", ["earn.categories.beans"]),
    ]
    assert "program" not in page["items"][0] or page["items"][0]["program"] is None
    assert page["next_before"] == 2
    rest = till.get("/api/v1/program/versions", params={"before": "2"}).json()
    assert [i["version"] for i in rest["items"]] == [1] and rest["next_before"] is None
    two = till.get("/api/v1/program/versions/2").json()
    assert two["version"] == 2 and two["program"] == _beans(300)
    zero = till.get("/api/v1/program/versions/0").json()
    assert zero["program"]["earn"]["points_per_unit"] == 1 and zero["program"]["tiers"] == {
        **zero["program"]["tiers"],
        "levels": [],
    }
    assert till.get("/api/v1/program/versions/9").status_code == 404
    bad = till.get("/api/v1/program/versions/two")
    assert bad.status_code == 422 and error_of(bad)["field"] == "version"
    assert till.get("/api/v1/program").json()["version"] == 3
