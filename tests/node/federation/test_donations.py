"""Donations from café members to the charity, with signed receipts.

A café point is worth 0.50 DKK, so 100 points give the charity 50.00 DKK
(5000 øre): no conversion and no rounding.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import text

from node.services.federation import unix
from node.services.verification import verify_ledger
from protocol import DonationAnswer, verify_message
from tests.node.federation.conftest import Consortium, Node


def donate(
    node: Node, customer: str, points: int, *, anonymous: bool = False, key: str | None = None
) -> httpx.Response:
    return node.client.post(
        "/api/v1/me/donations",
        json={"charity": "charity", "points": points, "anonymous": anonymous},
        headers={**node.token(customer), "Idempotency-Key": key or str(uuid.uuid4())},
    )


def donations(node: Node, customer: str) -> list[dict[str, Any]]:
    found = node.client.get("/api/v1/me/donations", headers=node.token(customer))
    assert found.status_code == 200, found.text
    return list(found.json()["items"])


def clearing(node: Node) -> set[tuple[str, str, str, int]]:
    with node.db.read() as session:
        rows = session.execute(text("SELECT ref, kind, creditor, value_minor FROM clearing_entry"))
        return {(str(r[0]), str(r[1]), str(r[2]), int(r[3])) for r in rows}


def test_a_member_donates_and_downloads_a_receipt_anyone_can_verify(
    consortium: Consortium,
) -> None:
    cafe, charity = consortium["cafe"], consortium["charity"]
    ann = cafe.enrol()
    cafe.earn(ann, 100_000)
    started = donate(cafe, ann, 100)
    assert started.status_code == 202, started.text
    assert started.json()["donation"] == {
        "id": started.json()["donation"]["id"],
        "charity": "charity",
        "points": -100,
        "value_minor": 5000,
        "anonymous": True,  # no link with the charity: it learns nothing of Ann
        "status": "pending",
    }
    assert started.json()["balance"] == 900
    consortium.settle()
    [mine] = donations(cafe, ann)
    assert (mine["status"], mine["value_minor"]) == ("accepted", 5000)
    assert mine["receipt"]["currency"] == "DKK" and mine["receipt"]["value_minor"] == 5000
    found = cafe.client.get(
        f"/api/v1/me/donations/{mine['id']}/receipt", headers=cafe.token(ann)
    ).json()
    assert found["receipt"] == mine["receipt"] and found["charity"] == "charity"
    # The token is the charity's signed donation.answer, checked against the manifest.
    manifest = cafe.federation.manifest(cafe.db)
    verified = verify_message(
        found["answer_token"].encode(),
        manifest=manifest,
        receiver="cafe",
        now=unix(consortium.clock.now()),
    )
    assert verified.issuer == "charity"
    assert isinstance(verified.body, DonationAnswer) and verified.body.receipt is not None
    assert verified.body.receipt.model_dump() == mine["receipt"]
    for node in (cafe, charity):
        assert verify_ledger(node.db).ok
    assert verify_ledger(cafe.db).totals["escrow:charity"] == 0
    assert verify_ledger(cafe.db).totals["federation:out"] == 100
    assert verify_ledger(charity.db).totals.get("federation:in", 0) == 0  # no points there
    [entry] = clearing(cafe)
    assert entry[1:] == ("donation", "charity", 5000)
    assert clearing(charity) == clearing(cafe)


def test_a_linked_donor_is_named_by_pseudonym_unless_anonymous(consortium: Consortium) -> None:
    cafe, charity = consortium["cafe"], consortium["charity"]
    ann_cafe, ann_charity = cafe.enrol(), charity.enrol()
    cafe.earn(ann_cafe, 100_000)
    consortium.link("cafe", ann_cafe, "charity", ann_charity)
    assert donate(cafe, ann_cafe, 10).json()["donation"]["anonymous"] is False
    assert donate(cafe, ann_cafe, 20, anonymous=True).json()["donation"]["anonymous"] is True
    consortium.settle()
    assert [d["status"] for d in donations(cafe, ann_cafe)] == ["accepted", "accepted"]
    # At the charity, only the named gift is on Ann's account there.
    seen = charity.client.get("/api/v1/me/transfers", headers=charity.token(ann_charity))
    assert [(op["kind"], op["value_minor"]) for op in seen.json()["items"]] == [("donation", 500)]
    assert charity.balance(ann_charity) == 0


def test_a_replayed_donation_gives_once(consortium: Consortium) -> None:
    cafe = consortium["cafe"]
    ann = cafe.enrol()
    cafe.earn(ann, 100_000)
    first = donate(cafe, ann, 100, key="d-1")
    again = donate(cafe, ann, 100, key="d-1")
    assert again.headers["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert cafe.balance(ann) == 900
    changed = donate(cafe, ann, 200, key="d-1")
    assert changed.json()["error"]["code"] == "idempotency_key_reused"
    consortium.settle()
    assert len(donations(cafe, ann)) == 1 and len(clearing(consortium["charity"])) == 1


def test_the_points_wait_in_escrow_while_the_charity_is_down(consortium: Consortium) -> None:
    cafe, charity = consortium["cafe"], consortium["charity"]
    ann = cafe.enrol()
    cafe.earn(ann, 100_000)
    [pending] = [donate(cafe, ann, 100).json()["donation"]]
    consortium.router.down.add("charity.test")
    assert consortium.deliver("cafe").retrying == 1
    assert verify_ledger(cafe.db).totals["escrow:charity"] == 100
    waiting = cafe.client.get(
        f"/api/v1/me/donations/{pending['id']}/receipt", headers=cafe.token(ann)
    )
    assert (waiting.status_code, waiting.json()["error"]["code"]) == (409, "no_receipt")
    consortium.router.down.clear()
    consortium.clock.advance(timedelta(minutes=10))
    consortium.settle()
    assert verify_ledger(cafe.db).totals["escrow:charity"] == 0
    assert clearing(charity) == clearing(cafe)


def test_a_refused_donation_gives_the_points_back(consortium: Consortium) -> None:
    cafe, charity = consortium["cafe"], consortium["charity"]
    ann_cafe, ann_charity = cafe.enrol(), charity.enrol()
    cafe.earn(ann_cafe, 100_000)
    consortium.link("cafe", ann_cafe, "charity", ann_charity)
    donate(cafe, ann_cafe, 100)
    charity.client.delete(
        "/api/v1/me/links/cafe",
        headers={**charity.token(ann_charity), "Idempotency-Key": str(uuid.uuid4())},
    )
    consortium.deliver("cafe")
    [refused] = donations(cafe, ann_cafe)
    assert (refused["status"], refused["reason"], refused["receipt"]) == (
        "rejected",
        "unknown_subject",
        None,
    )
    assert cafe.balance(ann_cafe) == 1000
    assert clearing(cafe) == set() and clearing(charity) == set()
    for node in (cafe, charity):
        assert verify_ledger(node.db).ok
    assert verify_ledger(cafe.db).totals["escrow:charity"] == 0


def test_only_a_charity_takes_donations(consortium: Consortium) -> None:
    cafe = consortium["cafe"]
    ann = cafe.enrol()
    cafe.earn(ann, 100_000)
    to_business = cafe.client.post(
        "/api/v1/me/donations",
        json={"charity": "bookshop", "points": 10},
        headers={**cafe.token(ann), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert (to_business.status_code, to_business.json()["error"]["code"]) == (409, "not_a_charity")
    unknown = cafe.client.post(
        "/api/v1/me/donations",
        json={"charity": "nowhere", "points": 10},
        headers={**cafe.token(ann), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert unknown.status_code == 422
    too_many = donate(cafe, ann, 5000)
    assert (too_many.status_code, too_many.json()["error"]["code"]) == (409, "insufficient_points")
    assert cafe.balance(ann) == 1000 and donations(cafe, ann) == []


def test_a_receipt_is_only_for_its_donor(consortium: Consortium) -> None:
    cafe = consortium["cafe"]
    ann, bob = cafe.enrol(), cafe.enrol()
    cafe.earn(ann, 100_000)
    gift = donate(cafe, ann, 100).json()["donation"]["id"]
    consortium.settle()
    other = cafe.client.get(f"/api/v1/me/donations/{gift}/receipt", headers=cafe.token(bob))
    assert other.status_code == 404
