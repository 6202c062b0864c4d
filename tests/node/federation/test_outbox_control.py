"""The operator's outbox controls (node.services.outbox_control): cancel only what
the partner cannot have seen, and refund it once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from node.errors import Conflict
from node.services import outbox_control
from node.services.outbox import LEASE
from node.services.verification import verify_ledger
from node.store import federation as store
from tests.node.federation.conftest import Consortium
from tests.node.federation.test_settlement import transfer


def _queued_transfer(consortium: Consortium) -> tuple[str, str, int]:
    cafe, bookshop = consortium["cafe"], consortium["bookshop"]
    ann_cafe, ann_books = cafe.enrol(), bookshop.enrol()
    cafe.earn(ann_cafe, 100_000)
    consortium.link("cafe", ann_cafe, "bookshop", ann_books)
    before = cafe.balance(ann_cafe)
    transfer(consortium, "cafe", ann_cafe, "bookshop", 300)
    with cafe.db.read() as session:
        message_id = session.execute(
            text("SELECT message_id FROM outbox_message WHERE message_type = 'transfer.request'")
        ).scalar_one()
    return ann_cafe, str(message_id), before


def test_a_transfer_a_worker_holds_cannot_be_cancelled(consortium: Consortium) -> None:
    cafe = consortium["cafe"]
    ann, message_id, before = _queued_transfer(consortium)
    now = consortium.clock.now()
    cafe.db.write(
        lambda session: store.claim_due(session=session, now=now, lease_until=now + LEASE, limit=10)
    )  # a delivery worker took it and may be sending it now (attempts still 0)
    [listed] = outbox_control.unanswered_messages(cafe.db, now=now)
    assert (listed["state"], listed["cancellable"]) == ("queued", False)
    with pytest.raises(Conflict):
        outbox_control.cancel_transfer(cafe.db, cafe.federation, message_id=message_id, now=now)
    assert cafe.balance(ann) == before - 300
    consortium.clock.advance(LEASE + timedelta(seconds=1))
    consortium.settle()  # delivered after all: accepted, nothing refunded
    assert cafe.balance(ann) == before - 300
    with pytest.raises(Conflict):
        outbox_control.retry_now(cafe.db, message_id=message_id, now=consortium.clock.now())


def test_a_cancelled_transfer_is_never_sent_and_refunded_once(consortium: Consortium) -> None:
    cafe, bookshop = consortium["cafe"], consortium["bookshop"]
    ann, message_id, before = _queued_transfer(consortium)
    now = consortium.clock.now()
    first = outbox_control.cancel_transfer(cafe.db, cafe.federation, message_id=message_id, now=now)
    again = outbox_control.cancel_transfer(cafe.db, cafe.federation, message_id=message_id, now=now)
    assert (first.refunded, first.replayed) == (300, False)
    assert (again.refunded, again.replayed) == (0, True)
    assert cafe.balance(ann) == before
    assert outbox_control.unanswered_messages(cafe.db, now=now) == []
    consortium.settle()
    with bookshop.db.read() as session:
        received = session.execute(text("SELECT count(*) FROM inbox_message")).scalar_one()
        held = session.execute(text("SELECT count(*) FROM clearing_entry")).scalar_one()
    assert held == 0 and received == 1  # only the link request ever arrived
    assert verify_ledger(cafe.db).ok
