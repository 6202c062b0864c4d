"""Partner rewards: a café member pays café points for the bookshop's reward.

Prices: the bookshop's point is worth 1.20 DKK and the café's 0.50 DKK, so
the 80-point book voucher (96.00 DKK) costs 192 café points, and the 7-point
bookmark (8.40 DKK) costs 17 café points (8.50 DKK; the café keeps 0.10).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from node.services.verification import verify_ledger
from tests.node.federation.conftest import Consortium, Node

BOOK_VOUCHER = {
    "code": "book-voucher",
    "name": "Book voucher 100 DKK",
    "points": 80,
    "per_customer_limit": 1,
    "partner_offer": True,
}
BOOKMARK = {"code": "bookmark", "name": "Bookmark", "points": 7, "stock": 1, "partner_offer": True}
STAFF_PICK = {"code": "staff-pick", "name": "Staff pick", "points": 50}


def apply_program(node: Node, rewards: list[dict[str, Any]]) -> None:
    response = node.client.put(
        "/api/v1/program",
        json={"program": {"rewards": rewards}, "comment": None},
        headers={**node.operator(), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert response.status_code == 201, response.text


def redeem(node: Node, customer: str, reward: str, key: str | None = None) -> httpx.Response:
    return node.client.post(
        "/api/v1/me/partner-redemptions",
        json={"partner": "bookshop", "reward": reward},
        headers={**node.token(customer), "Idempotency-Key": key or str(uuid.uuid4())},
    )


def partner_vouchers(node: Node, customer: str) -> list[dict[str, Any]]:
    found = node.client.get("/api/v1/me/partner-vouchers", headers=node.token(customer))
    assert found.status_code == 200, found.text
    return list(found.json()["items"])


def vouchers_at(node: Node, customer: str) -> list[dict[str, Any]]:
    found = node.client.get(f"/api/v1/customers/{customer}/vouchers", headers=node.operator())
    return list(found.json()["items"])


def clearing(node: Node) -> set[tuple[str, str, str, int]]:
    with node.db.read() as session:
        rows = session.execute(text("SELECT ref, kind, creditor, value_minor FROM clearing_entry"))
        return {(str(r[0]), str(r[1]), str(r[2]), int(r[3])) for r in rows}


@pytest.fixture
def members(consortium: Consortium) -> tuple[str, str]:
    """Ann: 1,000 café points, linked to her (empty) bookshop account."""
    cafe, bookshop = consortium["cafe"], consortium["bookshop"]
    apply_program(bookshop, [BOOK_VOUCHER, BOOKMARK, STAFF_PICK])
    ann_cafe, ann_books = cafe.enrol(), bookshop.enrol()
    cafe.earn(ann_cafe, 100_000)
    consortium.link("cafe", ann_cafe, "bookshop", ann_books)
    return ann_cafe, ann_books


def test_the_bookshop_publishes_only_its_partner_offers(consortium: Consortium) -> None:
    bookshop = consortium["bookshop"]
    apply_program(bookshop, [BOOK_VOUCHER, BOOKMARK, STAFF_PICK])
    published = bookshop.client.get("/federation/v1/offers")
    assert published.status_code == 200
    assert published.json() == {
        "node_id": "bookshop",
        "items": [
            {
                "reward_id": "book-voucher",
                "name": "Book voucher 100 DKK",
                "points": 80,
                "stock_left": None,
                "available_until": None,
            },
            {
                "reward_id": "bookmark",
                "name": "Bookmark",
                "points": 7,
                "stock_left": 1,
                "available_until": None,
            },
        ],
    }


def test_the_cafe_shows_bookshop_offers_in_cafe_points(
    consortium: Consortium, members: tuple[str, str]
) -> None:
    cafe, (ann_cafe, _) = consortium["cafe"], members
    shown = cafe.client.get(
        "/api/v1/me/partner-offers", params={"partner": "bookshop"}, headers=cafe.token(ann_cafe)
    )
    assert shown.status_code == 200, shown.text
    assert [(o["reward_id"], o["points"], o["partner_points"]) for o in shown.json()["items"]] == [
        ("book-voucher", 192, 80),
        ("bookmark", 17, 7),
    ]


def test_a_member_redeems_cafe_points_for_a_bookshop_voucher(
    consortium: Consortium, members: tuple[str, str]
) -> None:
    cafe, bookshop = consortium["cafe"], consortium["bookshop"]
    ann_cafe, ann_books = members
    started = redeem(cafe, ann_cafe, "book-voucher")
    assert started.status_code == 202, started.text
    assert started.json()["redemption"]["points"] == -192
    assert started.json()["redemption"]["partner_points"] == 80
    assert started.json()["balance"] == 808
    assert [v["status"] for v in partner_vouchers(cafe, ann_cafe)] == ["pending"]
    assert verify_ledger(cafe.db).totals["escrow:bookshop"] == 192
    consortium.settle()
    [mine] = partner_vouchers(cafe, ann_cafe)
    assert (mine["status"], mine["reward_id"], mine["points"]) == ("accepted", "book-voucher", -192)
    code = mine["voucher"]["code"]
    # The bookshop's till knows the voucher: it belongs to Ann's bookshop account.
    checked = bookshop.client.get(f"/api/v1/vouchers/{code}", headers=bookshop.operator())
    assert checked.status_code == 200, checked.text
    assert (checked.json()["status"], checked.json()["customer_id"]) == ("issued", ann_books)
    used = bookshop.client.post(
        f"/api/v1/vouchers/{code}/use",
        json={},
        headers={**bookshop.operator(), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert used.status_code == 200, used.text
    assert bookshop.balance(ann_books) == 0  # a voucher, not points
    assert cafe.balance(ann_cafe) == 808
    for node in consortium.nodes.values():
        assert verify_ledger(node.db).ok
    assert verify_ledger(cafe.db).totals["escrow:bookshop"] == 0
    assert verify_ledger(cafe.db).totals["federation:out"] == 192
    assert verify_ledger(bookshop.db).totals["federation:in"] == -80
    [entry] = clearing(cafe)
    assert entry[1:] == ("redemption", "bookshop", 9600)
    assert clearing(bookshop) == clearing(cafe)


def test_a_replayed_redemption_debits_once_even_with_the_partner_down(
    consortium: Consortium, members: tuple[str, str]
) -> None:
    cafe, (ann_cafe, _) = consortium["cafe"], members
    first = redeem(cafe, ann_cafe, "book-voucher", key="r-1")
    consortium.router.down.add("bookshop.test")
    again = redeem(cafe, ann_cafe, "book-voucher", key="r-1")
    assert again.status_code == 202
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert cafe.balance(ann_cafe) == 808
    other = redeem(cafe, ann_cafe, "bookmark", key="r-1")
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"


def test_the_points_wait_in_escrow_while_the_bookshop_is_down(
    consortium: Consortium, members: tuple[str, str]
) -> None:
    cafe, (ann_cafe, _) = consortium["cafe"], members
    redeem(cafe, ann_cafe, "book-voucher")
    consortium.router.down.add("bookshop.test")
    report = consortium.deliver("cafe")
    assert (report.attempted, report.answered, report.retrying) == (1, 0, 1)
    assert verify_ledger(cafe.db).totals["escrow:bookshop"] == 192
    assert [v["status"] for v in partner_vouchers(cafe, ann_cafe)] == ["pending"]
    consortium.router.down.clear()
    consortium.clock.advance(timedelta(minutes=10))
    consortium.settle()
    assert [v["status"] for v in partner_vouchers(cafe, ann_cafe)] == ["accepted"]
    assert verify_ledger(cafe.db).totals["escrow:bookshop"] == 0


def test_nothing_is_written_when_the_offers_cannot_be_fetched(
    consortium: Consortium, members: tuple[str, str]
) -> None:
    cafe, (ann_cafe, _) = consortium["cafe"], members
    consortium.router.down.add("bookshop.test")
    shown = cafe.client.get(
        "/api/v1/me/partner-offers", params={"partner": "bookshop"}, headers=cafe.token(ann_cafe)
    )
    assert (shown.status_code, shown.json()["error"]["code"]) == (502, "partner_unreachable")
    refused = redeem(cafe, ann_cafe, "book-voucher")
    assert (refused.status_code, refused.json()["error"]["code"]) == (502, "partner_unreachable")
    assert cafe.balance(ann_cafe) == 1000 and partner_vouchers(cafe, ann_cafe) == []


@pytest.mark.parametrize(
    ("reward", "code", "status"),
    [
        ("staff-pick", "reward_unavailable", 409),  # not offered to partners
        ("no-such-reward", "reward_unavailable", 409),
    ],
)
def test_a_reward_the_bookshop_does_not_offer_is_refused_here(
    consortium: Consortium, members: tuple[str, str], reward: str, code: str, status: int
) -> None:
    cafe, (ann_cafe, _) = consortium["cafe"], members
    refused = redeem(cafe, ann_cafe, reward)
    assert (refused.status_code, refused.json()["error"]["code"]) == (status, code)
    assert cafe.balance(ann_cafe) == 1000


def test_a_member_needs_a_link_and_a_business_partner(consortium: Consortium) -> None:
    cafe, bookshop = consortium["cafe"], consortium["bookshop"]
    apply_program(bookshop, [BOOK_VOUCHER])
    bob = cafe.enrol()
    cafe.earn(bob, 100_000)
    unlinked = redeem(cafe, bob, "book-voucher")
    assert (unlinked.status_code, unlinked.json()["error"]["code"]) == (409, "not_linked")
    charity = cafe.client.get(
        "/api/v1/me/partner-offers", params={"partner": "charity"}, headers=cafe.token(bob)
    )
    assert (charity.status_code, charity.json()["error"]["code"]) == (409, "partner_unavailable")


def assert_refunded(
    consortium: Consortium, members: tuple[str, str], reasons: list[tuple[str, str | None]]
) -> None:
    cafe, bookshop = consortium["cafe"], consortium["bookshop"]
    ann_cafe, ann_books = members
    found = [(v["status"], v["reason"]) for v in reversed(partner_vouchers(cafe, ann_cafe))]
    assert found == reasons
    rejected = [v for v in partner_vouchers(cafe, ann_cafe) if v["status"] == "rejected"]
    assert all(v["voucher"] is None for v in rejected)
    for node in consortium.nodes.values():
        assert verify_ledger(node.db).ok
    assert verify_ledger(cafe.db).totals.get("escrow:bookshop", 0) == 0
    accepted = [v for v in partner_vouchers(cafe, ann_cafe) if v["status"] == "accepted"]
    assert cafe.balance(ann_cafe) == 1000 + sum(v["points"] for v in accepted)
    assert len(vouchers_at(bookshop, ann_books)) == len(accepted)
    assert clearing(bookshop) == clearing(cafe)
    assert len(clearing(cafe)) == len(accepted)


def test_the_last_bookmark_goes_to_the_first_request(
    consortium: Consortium, members: tuple[str, str]
) -> None:
    cafe = consortium["cafe"]
    ann_cafe, _ = members
    assert redeem(cafe, ann_cafe, "bookmark").status_code == 202
    assert redeem(cafe, ann_cafe, "bookmark").status_code == 202  # the offer said 1 left
    assert cafe.balance(ann_cafe) == 1000 - 34
    consortium.settle()
    assert_refunded(consortium, members, [("accepted", None), ("rejected", "reward_unavailable")])
    gone = cafe.client.get(
        "/api/v1/me/partner-offers", params={"partner": "bookshop"}, headers=cafe.token(ann_cafe)
    )
    assert [o["reward_id"] for o in gone.json()["items"]] == ["book-voucher"]


def test_the_per_customer_limit_holds_across_nodes(
    consortium: Consortium, members: tuple[str, str]
) -> None:
    cafe, (ann_cafe, _) = consortium["cafe"], members
    redeem(cafe, ann_cafe, "book-voucher")
    redeem(cafe, ann_cafe, "book-voucher")
    consortium.settle()
    assert_refunded(consortium, members, [("accepted", None), ("rejected", "limit_exceeded")])


def test_a_price_change_before_delivery_is_a_conversion_mismatch(
    consortium: Consortium, members: tuple[str, str]
) -> None:
    cafe, bookshop = consortium["cafe"], consortium["bookshop"]
    redeem(cafe, members[0], "book-voucher")
    apply_program(bookshop, [{**BOOK_VOUCHER, "points": 90}])
    consortium.settle()
    assert_refunded(consortium, members, [("rejected", "conversion_mismatch")])


def test_a_reward_withdrawn_before_delivery_is_unavailable(
    consortium: Consortium, members: tuple[str, str]
) -> None:
    cafe, bookshop = consortium["cafe"], consortium["bookshop"]
    redeem(cafe, members[0], "book-voucher")
    apply_program(bookshop, [{**BOOK_VOUCHER, "partner_offer": False}])
    consortium.settle()
    assert_refunded(consortium, members, [("rejected", "reward_unavailable")])


def test_a_link_revoked_at_the_bookshop_is_an_unknown_subject(
    consortium: Consortium, members: tuple[str, str]
) -> None:
    cafe, bookshop = consortium["cafe"], consortium["bookshop"]
    ann_cafe, ann_books = members
    redeem(cafe, ann_cafe, "book-voucher")
    revoked = bookshop.client.delete(
        "/api/v1/me/links/cafe",
        headers={**bookshop.token(ann_books), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert revoked.status_code == 200, revoked.text
    consortium.deliver("cafe")
    assert_refunded(consortium, members, [("rejected", "unknown_subject")])
