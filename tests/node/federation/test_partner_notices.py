"""Erasure, restriction and rectification told to linked partners (GDPR Art.
17(2), 19), with signed receipts, between in-process nodes."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from node.services.erasure import shred_personal_data_txn
from node.services.federation import unix
from node.services.inbox import new_message_id
from node.services.partner_notices import NoticeKind, notify_partners_txn
from node.services.verification import verify_ledger
from protocol import (
    ErasureNotice,
    ErasureReceipt,
    RestrictionReceipt,
    b64url_decode,
    sign_message,
    verify_message,
)
from tests.node.federation.conftest import Consortium, Node

NAME, EMAIL = "Ann Fictional Jensen", "ann.jensen@example.org"


def notify(
    consortium: Consortium, node: Node, customer: str, ref: str, kind: NoticeKind
) -> list[str]:
    """What the request workflow does at approval (erasure: shred, then tell)."""
    now = consortium.clock.now()

    def unit(session: Any) -> list[str]:
        if kind == "erasure":
            shred_personal_data_txn(session=session, customer_id=customer, now=now)
        return notify_partners_txn(
            session=session,
            fed=node.federation,
            customer_id=customer,
            request_ref=ref,
            kind=kind,
            now=now,
        )

    return node.db.write(unit)


def notices(node: Node, ref: str) -> list[dict[str, Any]]:
    found = node.client.get(
        "/api/v1/privacy/notices", params={"request_ref": ref}, headers=node.operator()
    )
    assert found.status_code == 200, found.text
    items: list[dict[str, Any]] = found.json()["items"]
    return sorted(items, key=lambda n: n["partner"])


def my_links(node: Node, customer: str) -> list[tuple[str, str]]:
    found = node.client.get("/api/v1/me/links", headers=node.token(customer))
    assert found.status_code == 200, found.text
    return [(link["partner"], link["status"]) for link in found.json()["items"]]


def move(node: Node, customer: str, partner: str, points: int) -> Any:
    return node.client.post(
        "/api/v1/me/transfers",
        json={"partner": partner, "points": points},
        headers={**node.token(customer), "Idempotency-Key": str(uuid.uuid4())},
    )


def rows(node: Node, sql: str) -> list[tuple[Any, ...]]:
    with node.db.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(sql))]


def claims(token: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(b64url_decode(token.split(".")[1]))
    return found


def enrol_ann(node: Node) -> str:
    enrolled = node.client.post(
        "/api/v1/customers",
        json={
            "name": NAME,
            "email": EMAIL,
            "phone": "+45 12 34 56 78",
            "consents": {"partner_transfers": True},
        },
        headers={**node.operator(), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert enrolled.status_code == 201, enrolled.text
    return str(enrolled.json()["id"])


@pytest.fixture
def linked(consortium: Consortium) -> dict[str, str]:
    """Ann is a member at all three nodes; her café account is linked with the
    bookshop and the charity, and she moved points to the bookshop."""
    cafe, bookshop, charity = consortium["cafe"], consortium["bookshop"], consortium["charity"]
    ann = {"cafe": enrol_ann(cafe), "bookshop": enrol_ann(bookshop), "charity": enrol_ann(charity)}
    cafe.earn(ann["cafe"], 100_000)
    consortium.link("cafe", ann["cafe"], "bookshop", ann["bookshop"])
    consortium.link("charity", ann["charity"], "cafe", ann["cafe"])
    assert move(cafe, ann["cafe"], "bookshop", 500).status_code == 202
    consortium.settle()
    assert bookshop.balance(ann["bookshop"]) == 208
    return ann


def test_an_erasure_at_the_cafe_yields_signed_receipts_and_the_links_are_gone(
    consortium: Consortium, linked: dict[str, str]
) -> None:
    cafe, bookshop, charity = consortium["cafe"], consortium["bookshop"], consortium["charity"]
    ledger_before = verify_ledger(cafe.db).totals
    assert notify(consortium, cafe, linked["cafe"], "dsr-1", "erasure") == ["bookshop", "charity"]
    assert [n["state"] for n in notices(cafe, "dsr-1")] == ["queued", "queued"]
    # The café's links are revoked at once, in the erasure's transaction.
    assert rows(cafe, "SELECT status FROM partner_link") == [("erased",), ("erased",)]
    consortium.settle()

    assert my_links(bookshop, linked["bookshop"]) == []
    assert my_links(charity, linked["charity"]) == []
    # Only the link went: Ann stays a customer of the bookshop, points and all.
    assert bookshop.balance(linked["bookshop"]) == 208
    listed = notices(cafe, "dsr-1")
    assert [(n["partner"], n["kind"], n["state"]) for n in listed] == [
        ("bookshop", "erasure", "receipt_in"),
        ("charity", "erasure", "receipt_in"),
    ]
    at_bookshop, at_charity = (n["receipt"] for n in listed)
    assert at_bookshop["erased"] == at_charity["erased"] == ["link", "pseudonym"]
    # The bookshop keeps its books of the transfer (five full years), the charity
    # has no operation with the café, and both keep the signed messages.
    assert [(k["category"], k["exemption"]) for k in at_bookshop["kept"]] == [
        ("ledger", "legal_obligation"),
        ("settlement", "legal_obligation"),
        ("signed_messages", "legal_claims"),
    ]
    assert at_bookshop["kept"][0]["until"] == unix(datetime(2032, 1, 1, tzinfo=UTC))  # 2026 + 5
    assert [k["category"] for k in at_charity["kept"]] == ["signed_messages"]

    manifest = cafe.federation.manifest(cafe.db)
    for notice in listed:
        receipt = cafe.client.get(
            f"/api/v1/privacy/notices/{notice['id']}/receipt", headers=cafe.operator()
        )
        assert receipt.status_code == 200
        assert receipt.headers["content-type"] == "application/jose"
        verified = verify_message(
            receipt.text, manifest=manifest, receiver="cafe", now=unix(consortium.clock.now())
        )
        assert verified.issuer == notice["partner"]
        assert isinstance(verified.body, ErasureReceipt)
        assert verified.body.model_dump(mode="json") == notice["receipt"]
    assert verify_ledger(cafe.db).ok and verify_ledger(cafe.db).totals == ledger_before


@pytest.mark.parametrize(
    ("down_for", "sends"), [(timedelta(minutes=10), 1), (timedelta(days=2), 2)]
)
def test_a_partner_that_is_down_gets_the_notice_when_it_comes_back(
    consortium: Consortium, linked: dict[str, str], down_for: timedelta, sends: int
) -> None:
    cafe, charity = consortium["cafe"], consortium["charity"]
    consortium.router.down.add("charity.test")
    notify(consortium, cafe, linked["cafe"], "dsr-2", "erasure")
    consortium.deliver("cafe")
    consortium.deliver("cafe")
    bookshop_notice, charity_notice = notices(cafe, "dsr-2")
    assert bookshop_notice["state"] == "receipt_in"
    assert charity_notice["state"] == "queued" and charity_notice["attempts"] == 1
    assert charity_notice["last_error"] == "ConnectError"
    waiting = cafe.client.get(
        f"/api/v1/privacy/notices/{charity_notice['id']}/receipt", headers=cafe.operator()
    )
    assert waiting.status_code == 409 and waiting.json()["error"]["code"] == "no_receipt"
    assert my_links(charity, linked["charity"]) == [("cafe", "active")]

    consortium.clock.advance(down_for)  # past the notice's exp when down for two days
    consortium.router.down.clear()
    consortium.settle()
    charity_notice = notices(cafe, "dsr-2")[1]
    assert charity_notice["state"] == "receipt_in"
    assert charity_notice["receipt"]["erased"] == ["link", "pseudonym"]
    assert charity_notice["sends"] == sends
    assert my_links(charity, linked["charity"]) == []


def test_a_duplicate_or_second_notice_changes_nothing(
    consortium: Consortium, linked: dict[str, str]
) -> None:
    cafe, bookshop = consortium["cafe"], consortium["bookshop"]
    notify(consortium, cafe, linked["cafe"], "dsr-3", "erasure")
    consortium.settle()
    (token,) = (
        row[0]
        for row in rows(
            cafe,
            "SELECT token FROM outbox_message WHERE message_type = 'erasure.notice'"
            " AND destination = 'bookshop'",
        )
    )
    receipt = notices(cafe, "dsr-3")[0]
    stored = cafe.client.get(
        f"/api/v1/privacy/notices/{receipt['id']}/receipt", headers=cafe.operator()
    ).text
    inbox = {"Content-Type": "application/jose"}
    again = bookshop.client.post("/federation/v1/messages", content=token, headers=inbox)
    assert again.status_code == 200 and again.text == stored  # the stored answer, replayed

    # A new notice for the same pseudonym finds nothing left to erase.
    manifest = cafe.federation.manifest(cafe.db)
    now = consortium.clock.now()
    second = sign_message(
        ErasureNotice(subject=claims(token)["body"]["subject"]),
        signer=cafe.federation.signer(manifest, now=now),
        audience="bookshop",
        message_id=new_message_id(),
        issued_at=unix(now),
        expires_at=unix(now) + 3600,
    )
    answered = bookshop.client.post("/federation/v1/messages", content=second, headers=inbox)
    body = verify_message(answered.text, manifest=manifest, receiver="cafe", now=unix(now)).body
    assert isinstance(body, ErasureReceipt)
    assert (body.outcome, body.erased, body.kept) == ("accepted", [], [])
    assert bookshop.balance(linked["bookshop"]) == 208


def test_notifying_twice_for_one_request_sends_nothing_new(
    consortium: Consortium, linked: dict[str, str]
) -> None:
    cafe = consortium["cafe"]
    count = "SELECT count(*) FROM outbox_message WHERE message_type = 'rectification.notice'"
    assert notify(consortium, cafe, linked["cafe"], "dsr-4", "rectification") == [
        "bookshop",
        "charity",
    ]
    assert notify(consortium, cafe, linked["cafe"], "dsr-4", "rectification") == [
        "bookshop",
        "charity",
    ]
    assert rows(cafe, count) == [(2,)]
    consortium.settle()
    assert notify(consortium, cafe, linked["cafe"], "dsr-4", "rectification") == [
        "bookshop",
        "charity",
    ]
    assert rows(cafe, count) == [(2,)]
    listed = notices(cafe, "dsr-4")
    assert [(n["state"], n["receipt"]["held"]) for n in listed] == [("receipt_in", [])] * 2
    # A rectification changes no link.
    assert my_links(cafe, linked["cafe"]) == [("bookshop", "active"), ("charity", "active")]


def test_a_restriction_stops_transfers_both_ways_until_it_is_lifted(
    consortium: Consortium, linked: dict[str, str]
) -> None:
    cafe, bookshop = consortium["cafe"], consortium["bookshop"]
    ann_cafe, ann_books = linked["cafe"], linked["bookshop"]
    assert notify(consortium, cafe, ann_cafe, "dsr-5", "restriction") == ["bookshop", "charity"]
    # A transfer the bookshop started before it heard of the restriction is
    # refused by the café ("policy") and the points go back.
    assert move(bookshop, ann_books, "cafe", 100).status_code == 202
    consortium.deliver("bookshop")
    mine = bookshop.client.get("/api/v1/me/transfers", headers=bookshop.token(ann_books))
    assert [(op["status"], op["reason"]) for op in mine.json()["items"]][0] == (
        "rejected",
        "policy",
    )
    assert bookshop.balance(ann_books) == 208
    consortium.settle()
    for node, customer, partner in ((cafe, ann_cafe, "bookshop"), (bookshop, ann_books, "cafe")):
        refused = move(node, customer, partner, 100)
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"]["code"] == "link_restricted"
    assert ("cafe", "restricted") in my_links(bookshop, ann_books)
    receipt = notices(cafe, "dsr-5")[0]
    assert receipt["receipt"]["restricted"] is True
    assert receipt["receipt"]["stopped"] == ["named_donations", "redemptions", "transfers"]

    assert notify(consortium, cafe, ann_cafe, "dsr-5", "restriction_lift") == [
        "bookshop",
        "charity",
    ]
    consortium.settle()
    lifted = [n for n in notices(cafe, "dsr-5") if n["kind"] == "restriction_lift"]
    assert [(n["state"], n["receipt"]["stopped"]) for n in lifted] == [("receipt_in", [])] * 2
    token = cafe.client.get(
        f"/api/v1/privacy/notices/{lifted[0]['id']}/receipt", headers=cafe.operator()
    ).text
    manifest = cafe.federation.manifest(cafe.db)
    body = verify_message(
        token, manifest=manifest, receiver="cafe", now=unix(consortium.clock.now())
    ).body
    assert isinstance(body, RestrictionReceipt) and body.restricted is False
    assert move(cafe, ann_cafe, "bookshop", 120).status_code == 202
    assert move(bookshop, ann_books, "cafe", 10).status_code == 202
    consortium.settle()
    assert bookshop.balance(ann_books) == 208 + 50 - 10


def test_notices_and_receipts_carry_pseudonyms_only(
    consortium: Consortium, linked: dict[str, str]
) -> None:
    cafe, bookshop = consortium["cafe"], consortium["bookshop"]
    towards_cafe = bookshop.federation.pseudonym(linked["bookshop"], "cafe")
    our_subject = cafe.federation.pseudonym(linked["cafe"], "bookshop")
    notify(consortium, cafe, linked["cafe"], "dsr-6", "rectification")
    notify(consortium, cafe, linked["cafe"], "dsr-6", "erasure")
    consortium.settle()
    sent = rows(
        cafe,
        "SELECT destination, token FROM outbox_message WHERE message_type IN"
        " ('erasure.notice', 'rectification.notice') ORDER BY id",
    )
    assert len(sent) == 4
    for destination, token in sent:
        payload = claims(token)
        assert set(payload["body"]) == {"subject"}
        if destination == "bookshop":
            assert payload["body"]["subject"] == towards_cafe
        for personal in (NAME, EMAIL, "12 34 56 78", linked["cafe"]):
            assert personal not in json.dumps(payload, ensure_ascii=False)
    for notice in notices(cafe, "dsr-6"):
        text_of_receipt = json.dumps(notice["receipt"])
        assert NAME not in text_of_receipt and EMAIL not in text_of_receipt
    # No pseudonym of Ann is left in the café's link or notice rows.
    stored = json.dumps(
        rows(cafe, "SELECT * FROM partner_link") + rows(cafe, "SELECT * FROM partner_notice"),
        default=str,
    )
    assert towards_cafe not in stored and our_subject not in stored


def test_the_notice_routes_refuse_bad_input(consortium: Consortium) -> None:
    cafe = consortium["cafe"]
    bad = cafe.client.get(
        "/api/v1/privacy/notices", params={"request_ref": "a b"}, headers=cafe.operator()
    )
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "request_ref"
    missing = cafe.client.get("/api/v1/privacy/notices/ntc_nope/receipt", headers=cafe.operator())
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert cafe.client.get("/api/v1/privacy/notices?request_ref=x").status_code == 401
    assert notices(cafe, "never-sent") == []


def test_a_restricted_link_can_be_revoked_but_not_linked_over(
    consortium: Consortium, linked: dict[str, str]
) -> None:
    cafe, bookshop = consortium["cafe"], consortium["bookshop"]
    ann_cafe, ann_books = linked["cafe"], linked["bookshop"]
    notify(consortium, cafe, ann_cafe, "dsr-6", "restriction")
    consortium.settle()
    # Linking again over the restricted link would quietly lift the restriction.
    code = bookshop.client.post(
        "/api/v1/me/link-codes", json={"partner": "cafe"}, headers=bookshop.token(ann_books)
    )
    assert code.status_code == 201, code.text
    again = cafe.client.post(
        "/api/v1/me/links",
        json={
            "partner": "bookshop",
            "link_code": code.json()["link_code"],
            "subject": code.json()["subject"],
        },
        headers={**cafe.token(ann_cafe), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_linked"
    assert ("bookshop", "restricted") in my_links(cafe, ann_cafe)
    # The member may still end the link.
    revoked = cafe.client.request(
        "DELETE",
        "/api/v1/me/links/bookshop",
        headers={**cafe.token(ann_cafe), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert revoked.status_code == 200, revoked.text
    consortium.settle()
    assert ("bookshop", "revoked") in my_links(cafe, ann_cafe)
    assert ("cafe", "restricted") not in my_links(bookshop, ann_books)
