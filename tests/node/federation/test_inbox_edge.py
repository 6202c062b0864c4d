"""The inbox refuses forged, tampered, misdirected and malformed messages with a
4xx and the protocol's error code, writes nothing, and answers a repeat with
the stored answer (acceptance scenario 4)."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import text

from node.services import identity
from node.services.federation import unix
from protocol import (
    LinkRevoke,
    SigningKey,
    TransferRequest,
    generate_private_key,
    sign_message,
    verify_message,
)
from tests.node.federation.conftest import Consortium, Node

INBOX = "/federation/v1/messages"
SUBJECT = "gXvY_e3_bmOZdTVveZ7TLkZsPX6iqzpLJFe8ZvDBfXE"


def signer_of(node: Node) -> SigningKey:
    return identity.load_signing_keys(node.settings.keys_dir, node_id=node.node_id)[0]


def send(node: Node, token: str | bytes, media: str = "application/jose") -> httpx.Response:
    content = token.encode() if isinstance(token, str) else token
    return node.client.post(INBOX, content=content, headers={"Content-Type": media})


def request(
    consortium: Consortium, *, signer: SigningKey, audience: str = "bookshop", **kw: int
) -> str:
    now = unix(consortium.clock.now())
    return sign_message(
        LinkRevoke(subject=SUBJECT),
        signer=signer,
        audience=audience,
        message_id=kw.get("message_id_n") and f"m{kw['message_id_n']:031d}" or uuid.uuid4().hex,
        issued_at=kw.get("issued_at", now),
        expires_at=kw.get("expires_at", now + 3600),
    )


def inbox_rows(node: Node) -> int:
    with node.db.read() as session:
        return int(session.execute(text("SELECT count(*) FROM inbox_message")).scalar_one())


def error_code(response: httpx.Response) -> str:
    body = response.json()
    assert set(body["error"]) == {"code", "message", "field"}
    return str(body["error"]["code"])


def test_a_request_is_answered_once_and_a_repeat_gets_the_same_answer(
    consortium: Consortium,
) -> None:
    cafe, bookshop = consortium["cafe"], consortium["bookshop"]
    token = request(consortium, signer=signer_of(cafe))
    first = send(bookshop, token)
    assert first.status_code == 200 and first.headers["content-type"] == "application/jose"
    manifest = cafe.federation.manifest(cafe.db)
    answer = verify_message(
        first.content, manifest=manifest, receiver="cafe", now=unix(consortium.clock.now())
    )
    assert answer.body.outcome == "rejected" and answer.body.reason == "unknown_subject"  # type: ignore[attr-defined]
    again = send(bookshop, token)
    assert again.content == first.content
    assert inbox_rows(bookshop) == 1


@pytest.mark.parametrize(
    ("attack", "status", "code"),
    [
        ("forged", 401, "unknown_key"),
        ("tampered", 401, "bad_signature"),
        ("wrong_audience", 421, "wrong_audience"),
        ("unknown_issuer", 401, "unknown_issuer"),
        ("alg_none", 400, "alg_not_allowed"),
        ("garbage", 400, "malformed"),
        ("future", 400, "not_yet_valid"),
    ],
)
def test_attacks_are_refused_and_change_nothing(
    consortium: Consortium, attack: str, status: int, code: str
) -> None:
    cafe, bookshop = consortium["cafe"], consortium["bookshop"]
    now = unix(consortium.clock.now())
    real = signer_of(cafe)
    if attack == "forged":  # a key the manifest does not list, under a new kid of café
        token = request(consortium, signer=SigningKey("cafe:stolen", generate_private_key()))
    elif attack == "tampered":
        head, payload, sig = request(consortium, signer=real).split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        claims["body"]["subject"] = SUBJECT[::-1]
        forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
        token = f"{head}.{forged}.{sig}"
    elif attack == "wrong_audience":
        token = request(consortium, signer=real, audience="charity")
    elif attack == "unknown_issuer":
        token = request(consortium, signer=SigningKey("pirate:k1", generate_private_key()))
    elif attack == "alg_none":
        header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"konsort-msg+jwt","kid":"cafe:k"}')
        token = (
            header.rstrip(b"=").decode()
            + "."
            + request(consortium, signer=real).split(".")[1]
            + "."
        )
    elif attack == "garbage":
        token = "not a token"
    else:
        token = request(consortium, signer=real, issued_at=now + 3600, expires_at=now + 7200)
    refused = send(bookshop, token)
    assert refused.status_code == status, refused.text
    assert error_code(refused) == code
    assert inbox_rows(bookshop) == 0


def test_a_first_delivery_after_expiry_is_answered_expired(consortium: Consortium) -> None:
    cafe, bookshop = consortium["cafe"], consortium["bookshop"]
    now = unix(consortium.clock.now())
    token = request(consortium, signer=signer_of(cafe), issued_at=now - 7200, expires_at=now - 60)
    answered = send(bookshop, token)
    assert answered.status_code == 200
    manifest = cafe.federation.manifest(cafe.db)
    answer = verify_message(answered.content, manifest=manifest, receiver="cafe", now=now)
    assert answer.body.reason == "expired"  # type: ignore[attr-defined]


def test_the_inbox_takes_only_jose_and_small_bodies(consortium: Consortium) -> None:
    bookshop = consortium["bookshop"]
    assert send(bookshop, "x", media="application/json").status_code == 415
    assert send(bookshop, "x" * 70_000).status_code == 413


def test_a_transfer_with_wrong_numbers_is_rejected_and_refunded(consortium: Consortium) -> None:
    cafe, bookshop = consortium["cafe"], consortium["bookshop"]
    ann_cafe, ann_books = cafe.enrol(), bookshop.enrol()
    cafe.earn(ann_cafe, 100_000)
    consortium.link("cafe", ann_cafe, "bookshop", ann_books)
    with cafe.db.read() as session:
        subject = session.execute(text("SELECT partner_subject FROM partner_link")).scalar_one()
    now = unix(consortium.clock.now())
    greedy = TransferRequest(
        subject=subject,
        sender_points=10,
        receiver_points=1000,
        value_minor=500,
        sender_kept_minor=0,
        manifest_version=1,
    )
    token = sign_message(
        greedy,
        signer=signer_of(cafe),
        audience="bookshop",
        message_id=uuid.uuid4().hex,
        issued_at=now,
        expires_at=now + 600,
    )
    answered = send(bookshop, token)
    answer = verify_message(
        answered.content, manifest=cafe.federation.manifest(cafe.db), receiver="cafe", now=now
    )
    assert answer.body.reason == "conversion_mismatch"  # type: ignore[attr-defined]
    assert bookshop.balance(ann_books) == 0


def test_after_the_link_is_revoked_a_transfer_comes_back(consortium: Consortium) -> None:
    cafe, bookshop = consortium["cafe"], consortium["bookshop"]
    ann_cafe, ann_books = cafe.enrol(), bookshop.enrol()
    cafe.earn(ann_cafe, 100_000)
    consortium.link("cafe", ann_cafe, "bookshop", ann_books)
    # The bookshop side revokes; before the café hears of it, the member sends points.
    revoked = bookshop.client.delete(
        "/api/v1/me/links/cafe", headers={**bookshop.token(ann_books), "Idempotency-Key": "r-1"}
    )
    assert revoked.status_code == 200, revoked.text
    moved = cafe.client.post(
        "/api/v1/me/transfers",
        json={"partner": "bookshop", "points": 400},
        headers={**cafe.token(ann_cafe), "Idempotency-Key": "t-1"},
    )
    assert moved.status_code == 202
    assert cafe.balance(ann_cafe) == 601  # 399 points buy 166 bookshop points (199.20 DKK)
    consortium.deliver("cafe")  # the transfer arrives first: unknown_subject
    assert cafe.balance(ann_cafe) == 1000  # refunded from escrow
    consortium.settle()
    links = cafe.client.get("/api/v1/me/links", headers=cafe.token(ann_cafe)).json()["items"]
    assert [link["status"] for link in links] == ["revoked"]
    refused = cafe.client.post(
        "/api/v1/me/transfers",
        json={"partner": "bookshop", "points": 400},
        headers={**cafe.token(ann_cafe), "Idempotency-Key": "t-2"},
    )
    assert refused.status_code == 409 and error_code(refused) == "not_linked"


def test_a_link_code_works_once_and_only_for_its_partner(consortium: Consortium) -> None:
    cafe, bookshop, charity = consortium["cafe"], consortium["bookshop"], consortium["charity"]
    ann_books, ann_cafe = bookshop.enrol(), cafe.enrol()
    code = bookshop.client.post(
        "/api/v1/me/link-codes", json={"partner": "cafe"}, headers=bookshop.token(ann_books)
    ).json()
    # Entered at the charity (the code was for the café): refused.
    ann_charity = charity.enrol()
    charity.client.post(
        "/api/v1/me/links",
        json={"partner": "bookshop", "link_code": code["link_code"], "subject": code["subject"]},
        headers={**charity.token(ann_charity), "Idempotency-Key": "l-1"},
    )
    consortium.settle()
    mine = charity.client.get("/api/v1/me/links", headers=charity.token(ann_charity)).json()
    assert [link["status"] for link in mine["items"]] == ["refused"]
    # Expired after 15 minutes.
    consortium.clock.advance(timedelta(minutes=16))
    cafe.client.post(
        "/api/v1/me/links",
        json={"partner": "bookshop", "link_code": code["link_code"], "subject": code["subject"]},
        headers={**cafe.token(ann_cafe), "Idempotency-Key": "l-2"},
    )
    consortium.settle()
    mine = cafe.client.get("/api/v1/me/links", headers=cafe.token(ann_cafe)).json()
    assert [link["status"] for link in mine["items"]] == ["refused"]


def test_a_transfer_batch_is_decided_item_by_item(consortium: Consortium) -> None:
    from protocol import TransferBatch, TransferItem

    cafe, bookshop = consortium["cafe"], consortium["bookshop"]
    ann_cafe, ann_books = cafe.enrol(), bookshop.enrol()
    consortium.link("cafe", ann_cafe, "bookshop", ann_books)
    with cafe.db.read() as session:
        subject = session.execute(text("SELECT partner_subject FROM partner_link")).scalar_one()
    now = unix(consortium.clock.now())
    batch = TransferBatch(
        manifest_version=1,
        transfers=[
            TransferItem(
                item="a",
                subject=subject,
                sender_points=12,
                receiver_points=5,
                value_minor=600,
                sender_kept_minor=0,
            ),
            TransferItem(
                item="b",
                subject=SUBJECT,
                sender_points=12,
                receiver_points=5,
                value_minor=600,
                sender_kept_minor=0,
            ),
            TransferItem(
                item="c",
                subject=subject,
                sender_points=10,
                receiver_points=5,
                value_minor=600,
                sender_kept_minor=0,
            ),
        ],
    )
    token = sign_message(
        batch,
        signer=signer_of(cafe),
        audience="bookshop",
        message_id=uuid.uuid4().hex,
        issued_at=now,
        expires_at=now + 600,
    )
    answered = send(bookshop, token)
    answer = verify_message(
        answered.content, manifest=cafe.federation.manifest(cafe.db), receiver="cafe", now=now
    )
    results = [(r.item, r.outcome, r.reason) for r in answer.body.results]  # type: ignore[attr-defined]
    assert results == [
        ("a", "accepted", None),
        ("b", "rejected", "unknown_subject"),
        ("c", "rejected", "conversion_mismatch"),
    ]
    assert bookshop.balance(ann_books) == 5
    assert send(bookshop, token).content == answered.content  # a repeat changes nothing
    assert bookshop.balance(ann_books) == 5
