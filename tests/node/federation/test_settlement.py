"""Clearing and settlement between café and bookshop, over the protocol.

Worked example (café 1 point = 0.50 DKK, bookshop 1.20 DKK, amounts in øre):
Ann moves 500 café points to the bookshop (value 24,960: the bookshop is owed
249.60 DKK) and 100 bookshop points to the café (value 12,000: the café is
owed 120.00 DKK). Net for March from the café's view: 12,000 - 24,960 =
-12,960, so the café owes the bookshop 129.60 DKK.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import Session

from node import cli_settlement
from node.cli import build_parser
from node.store import federation as federation_store
from tests.node.federation.conftest import START, Consortium, Node

MARCH = {"period_start": "2026-03-01T00:00:00Z", "period_end": "2026-04-01T00:00:00Z"}
#: The 7-day wait after the period's end is over.
AFTER_MARCH = timedelta(days=38)
FAKE_REF = "bookshop:AAAAAAAAAAAAAAAAAAAAAA"


def _post(node: Node, path: str, body: dict[str, Any], key: str | None = None) -> Any:
    return node.client.post(
        path, json=body, headers={**node.operator(), "Idempotency-Key": key or str(uuid.uuid4())}
    )


def send_statement(node: Node, partner: str, **extra: Any) -> Any:
    return _post(node, "/api/v1/settlement/statements", {"partner": partner, **MARCH, **extra})


def periods(node: Node, partner: str | None = None) -> list[dict[str, Any]]:
    query = f"?partner={partner}" if partner else ""
    found = node.client.get(f"/api/v1/settlement/periods{query}", headers=node.operator())
    assert found.status_code == 200, found.text
    return list(found.json()["items"])


def pay(node: Node, period_id: str, amount: int, reference: str = "SEPA-0001") -> Any:
    return _post(
        node,
        f"/api/v1/settlement/periods/{period_id}/payments",
        {"amount": amount, "reference": reference},
    )


def transfer(consortium: Consortium, node: str, customer: str, partner: str, points: int) -> None:
    moved = consortium[node].client.post(
        "/api/v1/me/transfers",
        json={"partner": partner, "points": points},
        headers={**consortium[node].token(customer), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert moved.status_code == 202, moved.text


@pytest.fixture
def traded(consortium: Consortium) -> Consortium:
    """March: 500 café points to the bookshop, 100 bookshop points to the café."""
    cafe, bookshop = consortium["cafe"], consortium["bookshop"]
    ann_cafe, ann_books = cafe.enrol(), bookshop.enrol()
    cafe.earn(ann_cafe, 100_000)
    bookshop.earn(ann_books, 100_000)
    consortium.link("cafe", ann_cafe, "bookshop", ann_books)
    transfer(consortium, "cafe", ann_cafe, "bookshop", 500)
    transfer(consortium, "bookshop", ann_books, "cafe", 100)
    consortium.settle()
    assert cafe.balance(ann_cafe) == 1_000 - 500 + 240
    consortium.clock.advance(AFTER_MARCH)
    return consortium


def test_cafe_and_bookshop_agree_on_march_and_the_cafe_pays(traded: Consortium) -> None:
    cafe, bookshop = traded["cafe"], traded["bookshop"]
    sent = send_statement(cafe, "bookshop")
    assert sent.status_code == 202, sent.text
    assert (sent.json()["state"], sent.json()["net_minor"], sent.json()["entries"]) == (
        "awaiting_answer",
        -12_960,
        2,
    )
    traded.settle()
    [period] = periods(cafe, "bookshop")
    assert period["state"] == "agreed"
    assert (period["net_minor"], period["owed_by"], period["owed_to"]) == (
        -12_960,
        "cafe",
        "bookshop",
    )
    assert period["amount_minor"] == 12_960 and period["differing"] == []
    [statement] = period["statements"]
    assert (statement["outcome"], statement["partner_net_minor"]) == ("agreed", -12_960)

    part = pay(cafe, period["id"], 10_000, "SEPA-0001")
    assert part.status_code == 201, part.text
    assert part.json()["period"]["state"] == "agreed"
    assert part.json()["payment"]["payer"] == "cafe"
    rest = pay(cafe, period["id"], 2_960, "SEPA-0002")
    assert rest.json()["period"]["state"] == "settled"
    assert rest.json()["period"]["paid_minor"] == 12_960

    # The bookshop's own statement of March nets the other way and agrees too.
    theirs = send_statement(bookshop, "cafe")
    assert theirs.json()["net_minor"] == 12_960
    traded.settle()
    [mirror] = periods(bookshop)
    assert (mirror["state"], mirror["owed_by"], mirror["owed_to"]) == ("agreed", "cafe", "bookshop")


def test_a_clearing_entry_only_one_side_has_is_disputed(traded: Consortium) -> None:
    cafe, bookshop = traded["cafe"], traded["bookshop"]

    def add_fake(session: Session) -> None:  # a record the café does not have
        federation_store.insert_clearing(
            session=session,
            peer="cafe",
            ref=FAKE_REF,
            kind="transfer",
            creditor="bookshop",
            value_minor=500,
            request_iat=int(START.timestamp()),
            now=traded.clock.now(),
        )

    bookshop.db.write(add_fake)
    send_statement(cafe, "bookshop")
    traded.settle()
    [period] = periods(cafe)
    assert (period["state"], period["differing"]) == ("disputed", [FAKE_REF])
    assert period["statements"][0]["partner_net_minor"] == -13_460  # 500 more by its records
    assert pay(cafe, period["id"], 12_960).json()["error"]["code"] == "period_not_agreed"

    def drop_fake(session: Session) -> None:
        session.execute(text("DELETE FROM clearing_entry WHERE ref = :ref"), {"ref": FAKE_REF})

    bookshop.db.write(drop_fake)
    revised = send_statement(cafe, "bookshop")
    assert revised.status_code == 202 and revised.json()["state"] == "awaiting_answer"
    traded.settle()
    [period] = periods(cafe)
    assert (period["state"], period["differing"]) == ("agreed", [])
    assert [s["outcome"] for s in period["statements"]] == ["disputed", "agreed"]


def test_a_repeated_statement_gets_the_stored_answer(traded: Consortium) -> None:
    cafe, bookshop = traded["cafe"], traded["bookshop"]
    send_statement(cafe, "bookshop")
    with cafe.db.read() as session:
        [(token,)] = session.execute(
            text("SELECT token FROM outbox_message WHERE message_type = 'settlement.statement'")
        ).all()
    headers = {"Content-Type": "application/jose"}
    first = bookshop.client.post("/federation/v1/messages", content=token, headers=headers)
    again = bookshop.client.post("/federation/v1/messages", content=token, headers=headers)
    assert first.status_code == again.status_code == 200
    assert first.content == again.content
    with bookshop.db.read() as session:
        assert (
            session.execute(
                text(
                    "SELECT count(*) FROM inbox_message WHERE message_type = 'settlement.statement'"
                )
            ).scalar_one()
            == 1
        )
    traded.settle()  # the café's own delivery gets the same answer
    assert periods(cafe)[0]["state"] == "agreed"


def test_statements_wait_for_the_period_to_be_final(consortium: Consortium) -> None:
    cafe = consortium["cafe"]
    consortium.clock.set(START.replace(month=4, day=3))
    early = send_statement(cafe, "bookshop")
    assert (early.status_code, early.json()["error"]["code"]) == (409, "period_not_final")
    future = _post(
        cafe,
        "/api/v1/settlement/statements",
        {
            "partner": "bookshop",
            "period_start": MARCH["period_end"],
            "period_end": "2026-05-01T00:00:00Z",
            "force": True,
        },
    )
    assert (future.status_code, future.json()["error"]["code"]) == (409, "period_not_over")
    forced = send_statement(cafe, "bookshop", force=True)
    assert forced.status_code == 202, forced.text
    assert forced.json()["net_minor"] == 0
    consortium.settle()
    assert periods(cafe)[0]["state"] == "settled"  # agreed on nothing: nothing to pay


def test_refusals(traded: Consortium) -> None:
    cafe = traded["cafe"]
    traded.router.down.add("bookshop.test")
    checks = [
        ({"partner": "cafe"}, 422, "validation_failed"),
        ({"partner": "nobody"}, 422, "validation_failed"),
        ({"partner": "bookshop", "period_start": MARCH["period_end"]}, 422, "validation_failed"),
        ({"partner": "bookshop", "period_end": "2026-04-01T00:00:00"}, 422, "validation_failed"),
    ]
    for change, status, code in checks:
        refused = _post(
            cafe, "/api/v1/settlement/statements", {"partner": "bookshop", **MARCH, **change}
        )
        assert (refused.status_code, refused.json()["error"]["code"]) == (status, code), change
    sent = send_statement(cafe, "bookshop")
    period_id = sent.json()["id"]
    again = send_statement(cafe, "bookshop")
    assert (again.status_code, again.json()["error"]["code"]) == (409, "statement_awaiting_answer")
    overlap = _post(
        cafe,
        "/api/v1/settlement/statements",
        {
            "partner": "bookshop",
            "period_start": "2026-03-15T00:00:00Z",
            "period_end": MARCH["period_end"],
        },
    )
    assert (overlap.status_code, overlap.json()["error"]["code"]) == (409, "period_overlaps")
    assert pay(cafe, period_id, 1).json()["error"]["code"] == "period_not_agreed"
    assert pay(cafe, "stl_missing", 1).status_code == 404
    traded.router.down.clear()
    traded.settle()
    assert pay(cafe, period_id, 12_961).status_code == 422  # more than is owed
    assert pay(cafe, period_id, 0).status_code == 422
    assert pay(cafe, period_id, 1, "no spaces").status_code == 422
    assert pay(cafe, period_id, 12_960).json()["period"]["state"] == "settled"
    assert pay(cafe, period_id, 1).json()["error"]["code"] == "period_settled"
    done = send_statement(cafe, "bookshop")
    assert (done.status_code, done.json()["error"]["code"]) == (409, "period_agreed")


def test_operations_in_flight_refuse_a_statement(consortium: Consortium) -> None:
    cafe, bookshop = consortium["cafe"], consortium["bookshop"]
    ann_cafe, ann_books = cafe.enrol(), bookshop.enrol()
    cafe.earn(ann_cafe, 100_000)
    consortium.link("cafe", ann_cafe, "bookshop", ann_books)
    consortium.router.down.add("bookshop.test")
    transfer(consortium, "cafe", ann_cafe, "bookshop", 300)
    consortium.clock.set(START.replace(month=4, day=2))
    refused = send_statement(cafe, "bookshop", force=True)
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "operations_pending")


def test_a_payment_replays_under_its_idempotency_key(traded: Consortium) -> None:
    cafe = traded["cafe"]
    send_statement(cafe, "bookshop")
    traded.settle()
    period_id = periods(cafe)[0]["id"]
    path = f"/api/v1/settlement/periods/{period_id}/payments"
    first = _post(cafe, path, {"amount": 12_960, "reference": "SEPA-1"}, key="pay-1")
    again = _post(cafe, path, {"amount": 12_960, "reference": "SEPA-1"}, key="pay-1")
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(periods(cafe)[0]["payments"]) == 1


def test_the_settlement_commands(
    traded: Consortium, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cafe = traded["cafe"]
    cafe.secrets.save(cafe.settings.keys_dir)  # as `konsort init` leaves it
    monkeypatch.setattr(cli_settlement, "CLOCK", traded.clock)

    def run(*argv: str) -> str:
        args = build_parser().parse_args(["settlement", *argv])
        assert args.func(args, cafe.settings) == 0
        return capsys.readouterr().out

    sent = run("send", "--partner", "bookshop", "--from", "2026-03-01", "--to", "2026-04-01")
    period_id = sent.split("\t")[0]
    assert "\tawaiting_answer\t-12960\tcafe owes bookshop 12960\t" in sent
    traded.settle()
    listed = run("list", "--partner", "bookshop")
    assert f"{period_id}\tbookshop\t2026-03-01T00:00:00Z\t2026-04-01T00:00:00Z\tagreed" in listed
    paid = run("record-payment", period_id, "--amount", "12960", "--reference", "SEPA-77")
    assert "cafe paid 12960\tSEPA-77" in paid and "\tsettled\t" in paid
    again = run("record-payment", period_id, "--amount", "12960", "--reference", "SEPA-77")
    assert again == paid  # the same payment entered twice is recorded once
    assert len(periods(cafe)[0]["payments"]) == 1


def test_a_statement_delivered_too_late_is_rejected_and_sent_again(traded: Consortium) -> None:
    cafe = traded["cafe"]
    traded.router.down.add("bookshop.test")
    first = send_statement(cafe, "bookshop")
    traded.clock.advance(timedelta(days=2))  # past the statement's exp (1 day)
    traded.router.down.clear()
    traded.settle()
    [period] = periods(cafe)
    assert period["state"] == "closed"
    assert (period["statements"][0]["outcome"], period["statements"][0]["reason"]) == (
        "rejected",
        "expired",
    )
    again = send_statement(cafe, "bookshop")
    assert again.status_code == 202 and again.json()["id"] == first.json()["id"]
    traded.settle()
    assert [s["outcome"] for s in periods(cafe)[0]["statements"]] == ["rejected", "agreed"]
