"""Bonuses beyond the worked examples: who gets a birthday bonus, referrals paid once."""

from __future__ import annotations

from typing import Any

from node.db import Database
from node.secrets import NodeSecrets
from node.services.bonuses import BirthdayReport, award_birthday_bonuses
from node.services.verification import verify_ledger
from node.settings import Settings
from tests.node.program.cafe import Till, cafe_program, dk, error_of


def _bonuses(till: Till, customer: str) -> list[tuple[int, str]]:
    items = till.get(f"/api/v1/customers/{customer}/transactions").json()["items"]
    return [(item["points"], item["reference"]) for item in items if item["kind"] == "bonus"]


def test_birthday_bonus_only_for_members_born_that_month(
    cafe: Till, db: Database, settings: Settings, node_secrets: NodeSecrets
) -> None:
    cafe.at(dk(2026, 2, 10))
    march = [cafe.join(birthday="1990-03-14"), cafe.join(birthday="2001-03-31")]
    april = cafe.join(birthday="1985-04-01")
    nobody = cafe.join(name="No Birthday")
    report = award_birthday_bonuses(db, settings, node_secrets, now=dk(2026, 3, 15))
    assert report == BirthdayReport(members=2, points=200)
    for member in march:
        assert _bonuses(cafe, member) == [(100, "birthday"), (50, "enrolment")]
    for member in (april, nobody):
        assert _bonuses(cafe, member) == [(50, "enrolment")]
    april_report = award_birthday_bonuses(db, settings, node_secrets, now=dk(2026, 4, 2))
    assert april_report == BirthdayReport(members=1, points=100)
    assert verify_ledger(db).ok


def test_birthday_bonus_in_small_batches_pays_everyone_once(
    cafe: Till, db: Database, settings: Settings, node_secrets: NodeSecrets
) -> None:
    cafe.at(dk(2026, 2, 10))
    members = [cafe.join(birthday=f"1990-03-{day:02d}") for day in range(1, 6)]
    report = award_birthday_bonuses(db, settings, node_secrets, now=dk(2026, 3, 2), batch_size=2)
    assert report == BirthdayReport(members=5, points=500)
    assert all(cafe.balance(member)["points"] == 150 for member in members)


def test_no_birthday_bonus_when_the_program_has_none(
    till: Till, db: Database, settings: Settings, node_secrets: NodeSecrets
) -> None:
    member = till.at(dk(2026, 2, 10)).join(birthday="1990-03-14")
    report = award_birthday_bonuses(db, settings, node_secrets, now=dk(2026, 3, 1))
    assert report == BirthdayReport(0, 0)
    assert till.balance(member)["points"] == 0


def test_the_referral_is_paid_once_even_to_a_member_who_referred_several(
    cafe: Till, db: Database
) -> None:
    hans = cafe.at(dk(2026, 2, 16)).join()
    friends = [cafe.join(referred_by=hans) for _ in range(2)]
    cafe.at(dk(2026, 2, 20))
    for friend in friends:
        cafe.buy(friend, 1500)  # under the 20 kr minimum: no points, but a first purchase
        cafe.buy(friend, 6000)
    assert _bonuses(cafe, hans) == [(100, "referrer"), (100, "referrer"), (50, "enrolment")]
    for friend in friends:
        assert _bonuses(cafe, friend) == [(50, "referred"), (50, "enrolment")]
        assert cafe.balance(friend)["points"] == 50 + 50 + 60
    assert verify_ledger(db).ok


def test_a_referral_names_an_existing_member(cafe: Till) -> None:
    response = cafe.post("/api/v1/customers", {"referred_by": "cus_nobody"})
    assert response.status_code == 404
    assert error_of(response)["field"] == "referred_by"


def test_a_retried_enrolment_pays_the_enrolment_bonus_once(cafe: Till) -> None:
    body: dict[str, Any] = {"email": "jens@example.com"}
    first = cafe.post("/api/v1/customers", body, key="enrol-jens")
    again = cafe.post("/api/v1/customers", body, key="enrol-jens")
    assert first.json() == again.json()
    assert cafe.balance(first.json()["id"])["points"] == 50


def test_bonus_points_expire_like_earned_points(cafe: Till) -> None:
    jens = cafe.at(dk(2026, 2, 20, 12)).join()
    balance = cafe.balance(jens)
    assert (balance["points"], balance["expiring_points"]) == (50, 50)
    assert balance["next_expiry"].startswith("2027-02-20")
    assert cafe.at(dk(2027, 2, 20, 12)).balance(jens)["points"] == 0
    assert cafe_program().expiry.days == 365
