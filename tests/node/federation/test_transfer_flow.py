"""Linking and point transfers between in-process nodes."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import text

from node.errors import Conflict
from node.services import outbox_control
from node.services.federation_handlers import ANSWER_HANDLERS
from node.services.outbox import deliver_outbox
from node.services.verification import verify_ledger
from tests.node.federation.conftest import Consortium


def test_a_member_links_and_moves_points_from_cafe_to_bookshop(consortium: Consortium) -> None:
    cafe, bookshop = consortium["cafe"], consortium["bookshop"]
    ann_cafe, ann_books = cafe.enrol(), bookshop.enrol()
    cafe.earn(ann_cafe, 100_000)  # 1,000 café points
    consortium.link("cafe", ann_cafe, "bookshop", ann_books)
    links = cafe.client.get("/api/v1/me/links", headers=cafe.token(ann_cafe)).json()["items"]
    assert [(link["partner"], link["status"]) for link in links] == [("bookshop", "active")]
    moved = cafe.client.post(
        "/api/v1/me/transfers",
        json={"partner": "bookshop", "points": 500},
        headers={**cafe.token(ann_cafe), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert moved.status_code == 202, moved.text
    # 500 café points at 0.50 DKK = 250 DKK buy 208 bookshop points at 1.20 DKK (249.60 DKK);
    # the café debits the 500 and keeps 0.40 DKK.
    assert moved.json()["transfer"]["points"] == -500
    assert moved.json()["transfer"]["partner_points"] == 208
    assert cafe.balance(ann_cafe) == 500  # the rest sits in escrow until the bookshop answers
    consortium.settle()
    assert bookshop.balance(ann_books) == 208
    mine = cafe.client.get("/api/v1/me/transfers", headers=cafe.token(ann_cafe)).json()["items"]
    assert [(op["status"], op["points"]) for op in mine] == [("accepted", -500)]
    theirs = bookshop.client.get("/api/v1/me/transfers", headers=bookshop.token(ann_books))
    assert [(op["direction"], op["points"]) for op in theirs.json()["items"]] == [("in", 208)]
    for node in (cafe, bookshop):
        assert verify_ledger(node.db).ok
    assert verify_ledger(cafe.db).totals.get("escrow:bookshop", 0) == 0


def test_a_transfer_waits_in_escrow_while_the_partner_is_down(consortium: Consortium) -> None:
    cafe, bookshop = consortium["cafe"], consortium["bookshop"]
    ann_cafe, ann_books = cafe.enrol(), bookshop.enrol()
    cafe.earn(ann_cafe, 100_000)
    consortium.link("cafe", ann_cafe, "bookshop", ann_books)
    consortium.router.down.add("bookshop.test")
    cafe.client.post(
        "/api/v1/me/transfers",
        json={"partner": "bookshop", "points": 300},
        headers={**cafe.token(ann_cafe), "Idempotency-Key": "t-1"},
    )
    report = consortium.deliver("cafe")
    assert (report.attempted, report.answered, report.retrying) == (1, 0, 1)
    status = cafe.client.get("/api/v1/federation/status", headers=cafe.operator()).json()
    assert status["peers"][0]["partner"] == "bookshop" and status["peers"][0]["retrying"] == 1
    assert verify_ledger(cafe.db).totals["escrow:bookshop"] == 300
    consortium.router.down.clear()
    from datetime import timedelta

    consortium.clock.advance(timedelta(minutes=10))
    consortium.settle()
    assert bookshop.balance(ann_books) == 125  # 300 × 0.50 = 150 DKK buys 125 at 1.20
    assert verify_ledger(cafe.db).totals["escrow:bookshop"] == 0


def test_a_transfer_past_its_lifetime_is_in_doubt_then_rejected_expired(
    consortium: Consortium,
) -> None:
    from datetime import timedelta

    cafe, bookshop = consortium["cafe"], consortium["bookshop"]
    ann_cafe, ann_books = cafe.enrol(), bookshop.enrol()
    cafe.earn(ann_cafe, 100_000)
    consortium.link("cafe", ann_cafe, "bookshop", ann_books)
    consortium.router.down.add("bookshop.test")
    cafe.client.post(
        "/api/v1/me/transfers",
        json={"partner": "bookshop", "points": 300},
        headers={**cafe.token(ann_cafe), "Idempotency-Key": "t-late"},
    )
    consortium.deliver("cafe")
    consortium.clock.advance(timedelta(days=1, minutes=1))  # past the request's exp
    consortium.deliver("cafe")
    mine = cafe.client.get("/api/v1/me/transfers", headers=cafe.token(ann_cafe)).json()["items"]
    assert [op["status"] for op in mine] == ["expired_unresolved"]  # in doubt, still in escrow
    assert cafe.balance(ann_cafe) == 700
    consortium.router.down.clear()
    consortium.clock.advance(timedelta(minutes=10))  # the next retry is due
    consortium.settle()
    mine = cafe.client.get("/api/v1/me/transfers", headers=cafe.token(ann_cafe)).json()["items"]
    assert [(op["status"], op["reason"]) for op in mine] == [("rejected", "expired")]
    assert cafe.balance(ann_cafe) == 1000 and bookshop.balance(ann_books) == 0
    assert verify_ledger(cafe.db).totals["escrow:bookshop"] == 0


def test_queued_transfers_travel_as_one_batch_and_settle_item_by_item(
    consortium: Consortium,
) -> None:
    from sqlalchemy import text

    cafe, bookshop = consortium["cafe"], consortium["bookshop"]
    ann_cafe, ann_books = cafe.enrol(), bookshop.enrol()
    bo_cafe, bo_books = cafe.enrol(), bookshop.enrol()
    for member in (ann_cafe, bo_cafe):
        cafe.earn(member, 100_000)
    consortium.link("cafe", ann_cafe, "bookshop", ann_books)
    consortium.link("cafe", bo_cafe, "bookshop", bo_books)
    # Bo unlinks at the bookshop; the café does not know yet.
    bookshop.client.delete(
        "/api/v1/me/links/cafe", headers={**bookshop.token(bo_books), "Idempotency-Key": "u"}
    )
    for member, key in ((ann_cafe, "a1"), (ann_cafe, "a2"), (bo_cafe, "b1")):
        moved = cafe.client.post(
            "/api/v1/me/transfers",
            json={"partner": "bookshop", "points": 120},
            headers={**cafe.token(member), "Idempotency-Key": key},
        )
        assert moved.status_code == 202
    report = consortium.deliver("cafe")
    assert (report.attempted, report.answered) == (1, 1)  # one batch of three
    assert bookshop.balance(ann_books) == 100  # 2 x 50
    assert cafe.balance(ann_cafe) == 1000 - 240
    assert cafe.balance(bo_cafe) == 1000  # Bo's item was rejected and refunded
    with cafe.db.read() as session:
        refs = session.execute(text("SELECT ref FROM federated_operation")).scalars().all()
    assert len({ref.split(":")[1] for ref in refs}) == 1 and all(
        ref.count(":") == 2 for ref in refs
    )
    with cafe.db.read() as cafe_s, bookshop.db.read() as books_s:
        mine = set(cafe_s.execute(text("SELECT ref, value_minor FROM clearing_entry")).all())
        theirs = set(books_s.execute(text("SELECT ref, value_minor FROM clearing_entry")).all())
    assert mine == theirs and len(mine) == 2
    for node in (cafe, bookshop):
        assert verify_ledger(node.db).ok


def test_a_full_batch_of_one_hundred_transfers_fits_the_inbox(consortium: Consortium) -> None:
    cafe, bookshop = consortium["cafe"], consortium["bookshop"]
    ann_cafe, ann_books = cafe.enrol(), bookshop.enrol()
    cafe.earn(ann_cafe, 1_000_000)
    consortium.link("cafe", ann_cafe, "bookshop", ann_books)
    for n in range(100):
        cafe.client.post(
            "/api/v1/me/transfers",
            json={"partner": "bookshop", "points": 12},
            headers={**cafe.token(ann_cafe), "Idempotency-Key": f"full-{n}"},
        )
    report = consortium.deliver("cafe")
    assert (report.attempted, report.answered) == (1, 1)
    assert bookshop.balance(ann_books) == 500


class _Crash(BaseException):
    """The sending process dies (SIGKILL): nothing after the send runs."""


class _CrashAfterDelivery(httpx.AsyncBaseTransport):
    """Delivers the first request to the partner, then the sender 'dies' before the answer."""

    def __init__(self, router: httpx.AsyncBaseTransport) -> None:
        self.router = router

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await self.router.handle_async_request(request)
        raise _Crash


def test_a_request_sent_before_a_crash_is_never_folded_into_a_batch(
    consortium: Consortium,
) -> None:
    """Found by the SIGKILL fault run: a request the partner had credited, its answer
    lost in a crash, was folded with a later one into a batch and credited twice."""
    cafe, bookshop = consortium["cafe"], consortium["bookshop"]
    ann_cafe, ann_books = cafe.enrol(), bookshop.enrol()
    cafe.earn(ann_cafe, 100_000)
    consortium.link("cafe", ann_cafe, "bookshop", ann_books)

    def transfer(key: str) -> None:
        moved = cafe.client.post(
            "/api/v1/me/transfers",
            json={"partner": "bookshop", "points": 120},
            headers={**cafe.token(ann_cafe), "Idempotency-Key": key},
        )
        assert moved.status_code == 202, moved.text

    transfer("before-crash")

    async def crash() -> None:
        async with httpx.AsyncClient(transport=_CrashAfterDelivery(consortium.router)) as client:
            await deliver_outbox(
                cafe.db,
                cafe.federation,
                client=client,
                clock=consortium.clock,
                answer_handlers=ANSWER_HANDLERS,
            )

    with pytest.raises(_Crash):
        asyncio.run(crash())
    assert bookshop.balance(ann_books) == 50  # the partner credited it; the café never heard
    consortium.clock.advance(timedelta(minutes=10))  # the crashed worker's lease runs out
    # Nor may the operator cancel it now (a refund would create the points twice).
    [waiting] = outbox_control.unanswered_messages(cafe.db, now=consortium.clock.now())
    assert (waiting["attempts"], waiting["cancellable"]) == (0, False)
    with pytest.raises(Conflict):
        outbox_control.cancel_transfer(
            cafe.db, cafe.federation, message_id=waiting["message_id"], now=consortium.clock.now()
        )
    transfer("after-crash")
    consortium.settle()
    assert bookshop.balance(ann_books) == 100  # 2 x 50, not 3 x 50
    assert cafe.balance(ann_cafe) == 1000 - 240
    with cafe.db.read() as cafe_s, bookshop.db.read() as books_s:
        mine = set(cafe_s.execute(text("SELECT ref, value_minor FROM clearing_entry")).all())
        theirs = set(books_s.execute(text("SELECT ref, value_minor FROM clearing_entry")).all())
    assert mine == theirs and len(mine) == 2
    for node in (cafe, bookshop):
        assert verify_ledger(node.db).ok
    assert verify_ledger(cafe.db).totals.get("escrow:bookshop", 0) == 0
