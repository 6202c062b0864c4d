"""Every path that needs partner-transfer consent asks the one guard.

Without the consent (never given, withdrawn, or processing restricted) the
action is refused with a clear error, and nothing is written: no link code,
no link, no escrow posting, no outbox message, no operation. A partner that
lacks its member's consent answers ``consent_missing`` and the sender refunds.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import text

from node.services import consent
from node.services.verification import verify_ledger
from tests.node.federation.conftest import Consortium, Node
from tests.node.federation.test_partner_rewards import BOOK_VOUCHER, apply_program

TABLES = (
    "link_code",
    "partner_link",
    "outbox_message",
    "federated_operation",
    "ledger_transaction",
    "clearing_entry",
)


def rows(node: Node) -> dict[str, int]:
    with node.db.read() as session:
        return {
            table: int(session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
            for table in TABLES
        }


def set_consent(node: Node, customer: str, granted: bool) -> None:
    changed = node.client.put(
        "/api/v1/me/consents/partner_transfers",
        json={"granted": granted},
        headers={**node.token(customer), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["granted"] is granted


def as_member(node: Node, customer: str, path: str, body: dict[str, Any]) -> httpx.Response:
    return node.client.post(
        path, json=body, headers={**node.token(customer), "Idempotency-Key": str(uuid.uuid4())}
    )


def assert_consent_required(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert error["code"] == "consent_required"
    assert error["field"] == "partner_transfers"
    assert "PUT /api/v1/me/consents/partner_transfers" in error["message"]


def linked_pair(consortium: Consortium, *, funding: int = 100_000) -> tuple[str, str]:
    cafe, bookshop = consortium["cafe"], consortium["bookshop"]
    ann_cafe, ann_books = cafe.enrol(), bookshop.enrol()
    cafe.earn(ann_cafe, funding)
    consortium.link("cafe", ann_cafe, "bookshop", ann_books)
    return ann_cafe, ann_books


def my_transfers(node: Node, customer: str) -> list[dict[str, Any]]:
    found = node.client.get("/api/v1/me/transfers", headers=node.token(customer))
    return list(found.json()["items"])


def test_a_link_code_needs_the_consent(consortium: Consortium) -> None:
    bookshop = consortium["bookshop"]
    bo = bookshop.enrol(partner_transfers=False)
    before = rows(bookshop)
    assert_consent_required(as_member(bookshop, bo, "/api/v1/me/link-codes", {"partner": "cafe"}))
    assert rows(bookshop) == before


def test_a_link_request_needs_the_consent(consortium: Consortium) -> None:
    cafe, bookshop = consortium["cafe"], consortium["bookshop"]
    bo_cafe, bo_books = cafe.enrol(partner_transfers=False), bookshop.enrol()
    code = as_member(bookshop, bo_books, "/api/v1/me/link-codes", {"partner": "cafe"}).json()
    before = rows(cafe)
    asked = as_member(
        cafe,
        bo_cafe,
        "/api/v1/me/links",
        {"partner": "bookshop", "link_code": code["link_code"], "subject": code["subject"]},
    )
    assert_consent_required(asked)
    assert rows(cafe) == before


def test_an_incoming_link_is_refused_when_its_member_withdrew(consortium: Consortium) -> None:
    cafe, bookshop = consortium["cafe"], consortium["bookshop"]
    bo_cafe, bo_books = cafe.enrol(), bookshop.enrol()
    code = as_member(bookshop, bo_books, "/api/v1/me/link-codes", {"partner": "cafe"}).json()
    set_consent(bookshop, bo_books, False)  # after taking the code, before it is used
    asked = as_member(
        cafe,
        bo_cafe,
        "/api/v1/me/links",
        {"partner": "bookshop", "link_code": code["link_code"], "subject": code["subject"]},
    )
    assert asked.status_code == 202
    before = rows(bookshop)
    consortium.settle()
    links = cafe.client.get("/api/v1/me/links", headers=cafe.token(bo_cafe)).json()["items"]
    assert [link["status"] for link in links] == ["refused"]
    with bookshop.db.read() as session:
        answered = session.execute(text("SELECT reason FROM inbox_message")).scalars().all()
        used = session.execute(text("SELECT used_at FROM link_code")).scalars().all()
    assert answered == ["consent_missing"]
    assert used == [None]  # the code stays unused
    assert rows(bookshop) == before  # only the stored answer was written


def test_a_transfer_needs_the_consent_and_a_withdrawal_counts_at_once(
    consortium: Consortium,
) -> None:
    cafe = consortium["cafe"]
    ann_cafe, _ = linked_pair(consortium)
    moved = as_member(
        cafe, ann_cafe, "/api/v1/me/transfers", {"partner": "bookshop", "points": 120}
    )
    assert moved.status_code == 202
    set_consent(cafe, ann_cafe, False)
    before, balance = rows(cafe), cafe.balance(ann_cafe)
    again = as_member(
        cafe, ann_cafe, "/api/v1/me/transfers", {"partner": "bookshop", "points": 120}
    )
    assert_consent_required(again)
    by_till = cafe.client.post(
        f"/api/v1/customers/{ann_cafe}/transfers",
        json={"partner": "bookshop", "points": 120},
        headers={**cafe.operator(), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert_consent_required(by_till)
    assert rows(cafe) == before and cafe.balance(ann_cafe) == balance
    # Granting again lets the member move points again.
    set_consent(cafe, ann_cafe, True)
    third = as_member(
        cafe, ann_cafe, "/api/v1/me/transfers", {"partner": "bookshop", "points": 120}
    )
    assert third.status_code == 202


def test_an_incoming_transfer_is_refused_and_the_sender_refunds(consortium: Consortium) -> None:
    cafe, bookshop = consortium["cafe"], consortium["bookshop"]
    ann_cafe, ann_books = linked_pair(consortium)
    set_consent(bookshop, ann_books, False)
    before = rows(bookshop)
    moved = as_member(
        cafe, ann_cafe, "/api/v1/me/transfers", {"partner": "bookshop", "points": 120}
    )
    assert moved.status_code == 202 and cafe.balance(ann_cafe) == 1000 - 120
    consortium.settle()
    [transfer] = my_transfers(cafe, ann_cafe)
    assert (transfer["status"], transfer["reason"]) == ("rejected", "consent_missing")
    assert cafe.balance(ann_cafe) == 1000
    assert bookshop.balance(ann_books) == 0
    assert rows(bookshop) == before
    for node in (cafe, bookshop):
        assert verify_ledger(node.db).ok


def test_each_batch_item_asks_the_guard(consortium: Consortium) -> None:
    cafe, bookshop = consortium["cafe"], consortium["bookshop"]
    ann_cafe, ann_books = linked_pair(consortium)
    bo_cafe, bo_books = linked_pair(consortium)
    set_consent(bookshop, bo_books, False)
    for member in (ann_cafe, bo_cafe):
        moved = as_member(
            cafe, member, "/api/v1/me/transfers", {"partner": "bookshop", "points": 120}
        )
        assert moved.status_code == 202
    report = consortium.deliver("cafe")
    assert (report.attempted, report.answered) == (1, 1)  # one batch of two
    assert bookshop.balance(ann_books) == 50 and bookshop.balance(bo_books) == 0
    assert cafe.balance(ann_cafe) == 1000 - 120 and cafe.balance(bo_cafe) == 1000
    [bo_transfer] = my_transfers(cafe, bo_cafe)
    assert bo_transfer["reason"] == "consent_missing"


def test_restriction_stops_transfers_but_not_earning(consortium: Consortium) -> None:
    cafe = consortium["cafe"]
    ann_cafe, _ = linked_pair(consortium)
    with cafe.db.transaction() as session:
        consent.set_restriction_txn(
            session=session,
            customer_id=ann_cafe,
            restricted=True,
            reason="accuracy_contested",
            actor="privacy-officer",
            now=consortium.clock.now(),
        )
    before = rows(cafe)
    moved = as_member(
        cafe, ann_cafe, "/api/v1/me/transfers", {"partner": "bookshop", "points": 120}
    )
    assert moved.status_code == 403
    assert moved.json()["error"]["code"] == "processing_restricted"
    assert rows(cafe) == before
    cafe.earn(ann_cafe, 10_000)  # ordinary membership goes on
    assert cafe.balance(ann_cafe) == 1100


def test_a_partner_reward_needs_the_consent_at_both_nodes(consortium: Consortium) -> None:
    cafe, bookshop = consortium["cafe"], consortium["bookshop"]
    apply_program(bookshop, [BOOK_VOUCHER])
    ann_cafe, ann_books = linked_pair(consortium)
    reward = {"partner": "bookshop", "reward": "book-voucher"}
    set_consent(cafe, ann_cafe, False)
    before = rows(cafe)
    assert_consent_required(as_member(cafe, ann_cafe, "/api/v1/me/partner-redemptions", reward))
    assert rows(cafe) == before and cafe.balance(ann_cafe) == 1000
    # Consent at the café, none at the bookshop: the bookshop refuses, the café refunds.
    set_consent(cafe, ann_cafe, True)
    set_consent(bookshop, ann_books, False)
    books_before = rows(bookshop)
    started = as_member(cafe, ann_cafe, "/api/v1/me/partner-redemptions", reward)
    assert started.status_code == 202, started.text
    consortium.settle()
    found = cafe.client.get("/api/v1/me/partner-vouchers", headers=cafe.token(ann_cafe))
    [redemption] = found.json()["items"]
    assert (redemption["status"], redemption["reason"]) == ("rejected", "consent_missing")
    assert cafe.balance(ann_cafe) == 1000
    assert rows(bookshop) == books_before


def test_a_named_donation_needs_the_consent_an_anonymous_one_does_not(
    consortium: Consortium,
) -> None:
    cafe, charity = consortium["cafe"], consortium["charity"]
    ann_cafe, ann_charity = cafe.enrol(), charity.enrol()
    cafe.earn(ann_cafe, 100_000)
    consortium.link("cafe", ann_cafe, "charity", ann_charity)
    set_consent(cafe, ann_cafe, False)
    before = rows(cafe)
    named = {"charity": "charity", "points": 100, "anonymous": False}
    assert_consent_required(as_member(cafe, ann_cafe, "/api/v1/me/donations", named))
    assert rows(cafe) == before and cafe.balance(ann_cafe) == 1000
    anonymous = as_member(cafe, ann_cafe, "/api/v1/me/donations", {**named, "anonymous": True})
    assert anonymous.status_code == 202, anonymous.text
    consortium.settle()
    found = cafe.client.get("/api/v1/me/donations", headers=cafe.token(ann_cafe)).json()
    assert [(d["status"], d["anonymous"]) for d in found["items"]] == [("accepted", True)]


def test_the_charity_refuses_a_named_gift_from_a_member_who_withdrew_there(
    consortium: Consortium,
) -> None:
    cafe, charity = consortium["cafe"], consortium["charity"]
    ann_cafe, ann_charity = cafe.enrol(), charity.enrol()
    cafe.earn(ann_cafe, 100_000)
    consortium.link("cafe", ann_cafe, "charity", ann_charity)
    set_consent(charity, ann_charity, False)
    before = rows(charity)
    named = {"charity": "charity", "points": 100, "anonymous": False}
    assert as_member(cafe, ann_cafe, "/api/v1/me/donations", named).status_code == 202
    consortium.settle()
    found = cafe.client.get("/api/v1/me/donations", headers=cafe.token(ann_cafe)).json()
    assert [(d["status"], d["reason"]) for d in found["items"]] == [("rejected", "consent_missing")]
    assert cafe.balance(ann_cafe) == 1000 and rows(charity) == before
