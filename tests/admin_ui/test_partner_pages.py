"""The operator's partners, outbox and settlement pages over HTTP, on an
in-process consortium (café, bookshop, charity over httpx.ASGITransport)."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlmodel import Session
from starlette.testclient import TestClient

from admin_ui.staff.settlement import parse_amount
from node.errors import ValidationFailed
from node.services import identity
from node.services.verification import verify_ledger
from node.store import federation as federation_store
from tests.admin_ui.conftest import PASSWORD, make_staff
from tests.node.federation.conftest import START, Consortium, Node, consortium  # noqa: F401
from tests.node.federation.test_partner_rewards import BOOKMARK, apply_program
from tests.node.federation.test_settlement import AFTER_MARCH, FAKE_REF, transfer

ORIGIN = {"Origin": "https://cafe.test"}


def signed_in(node: Node, clock: Any, role: str) -> TestClient:
    """A browser at ``node``'s admin UI, signed in as a new staff user with ``role``."""
    name = f"{role}-{uuid.uuid4().hex[:6]}"
    user = make_staff(node.db, node.secrets, clock, role=role, username=name)
    client = TestClient(node.app, base_url="https://cafe.test", follow_redirects=False)
    response = client.post(
        "/admin/login",
        data={"username": user.account.username, "password": PASSWORD},
        headers=ORIGIN,
    )
    assert response.status_code == 303, response.text
    return client


def post(client: TestClient, path: str, data: dict[str, str] | None = None) -> httpx.Response:
    return client.post(path, data=data or {}, headers=ORIGIN)


def get(client: TestClient, path: str) -> httpx.Response:
    return client.get(path)


def form_key(html: str) -> str:
    found = re.search(r'name="key" value="([0-9a-f]+)', html)
    assert found is not None
    return found.group(1)


@pytest.fixture
def ann(consortium: Consortium) -> tuple[str, str]:  # noqa: F811
    """Ann: 1,000 café points, linked to her bookshop account."""
    cafe, bookshop = consortium["cafe"], consortium["bookshop"]
    ann_cafe, ann_books = cafe.enrol(), bookshop.enrol()
    cafe.earn(ann_cafe, 100_000)
    consortium.link("cafe", ann_cafe, "bookshop", ann_books)
    return ann_cafe, ann_books


def outbox_row(node: Node) -> tuple[str, int]:
    with node.db.read() as session:
        row = session.execute(
            text(
                "SELECT message_id, attempts FROM outbox_message WHERE status = 'pending'"
                " AND message_type = 'transfer.request'"
            )
        ).one()
    return str(row[0]), int(row[1])


# -- partners -------------------------------------------------------------------


def test_partners_page_shows_members_keys_outbox_and_offers(consortium: Consortium) -> None:  # noqa: F811
    cafe = consortium["cafe"]
    ui = signed_in(cafe, consortium.clock, "operator")
    apply_program(cafe, [{**BOOKMARK, "name": "Bookmark <gold>"}])
    page = get(ui, "/admin/partners")
    assert page.status_code == 200
    html = page.text
    assert "manifest version 1" in html
    for member in ("bookshop:", "charity:", "cafe:"):
        assert member in html  # every member's key id
    assert "this node" in html and "signing" in html
    assert "Bookmark &lt;gold&gt;" in html  # the offer published to partners, escaped
    assert 'href="/admin/partners/keys/rotate"' in html


def test_key_rotation_asks_first_and_makes_one_key_per_confirmation(
    consortium: Consortium,  # noqa: F811
) -> None:
    cafe = consortium["cafe"]
    ui = signed_in(cafe, consortium.clock, "operator")
    [old] = identity.load_signing_keys(cafe.settings.keys_dir, node_id="cafe")
    confirm = get(ui, "/admin/partners/keys/rotate")
    assert confirm.status_code == 200 and f'value="{old.kid}"' in confirm.text
    assert len(identity.load_signing_keys(cafe.settings.keys_dir, node_id="cafe")) == 1
    consortium.clock.advance(timedelta(seconds=1))  # a new key name (one per second)
    made = post(ui, "/admin/partners/keys/rotate", {"newest": old.kid})
    assert made.status_code == 200
    keys = identity.load_signing_keys(cafe.settings.keys_dir, node_id="cafe")
    assert len(keys) == 2 and keys[-1].public_jwk().x in made.text.replace("&#34;", '"')
    again = post(ui, "/admin/partners/keys/rotate", {"newest": old.kid})  # a double submit
    assert again.status_code == 200 and "no second key was made" in again.text
    assert len(identity.load_signing_keys(cafe.settings.keys_dir, node_id="cafe")) == 2
    overview = get(ui, "/admin/partners").text
    assert "not in the manifest yet" in overview and "signing" in overview


# -- outbox ---------------------------------------------------------------------


def test_a_retrying_transfer_is_sent_again_now_and_cannot_be_cancelled(
    consortium: Consortium,  # noqa: F811
    ann: tuple[str, str],
) -> None:
    cafe, bookshop = consortium["cafe"], consortium["bookshop"]
    ui = signed_in(cafe, consortium.clock, "operator")
    consortium.router.down.add("bookshop.test")
    before = cafe.balance(ann[0])
    transfer(consortium, "cafe", ann[0], "bookshop", 300)
    message_id, _ = outbox_row(cafe)
    assert "queued" in get(ui, "/admin/partners/outbox").text
    assert consortium.deliver("cafe").retrying == 1
    page = get(ui, "/admin/partners/outbox").text
    assert message_id in page and "retrying" in page and "ConnectError" in page
    assert f"/admin/partners/outbox/{message_id}/cancel" not in page  # sent once: no cancel
    refused = post(ui, f"/admin/partners/outbox/{message_id}/cancel")
    assert refused.status_code == 409 and "may have arrived" in refused.text
    assert cafe.balance(ann[0]) == before - 300
    assert consortium.deliver("cafe").attempted == 0  # waiting for its backoff
    consortium.router.down.clear()
    retried = post(ui, f"/admin/partners/outbox/{message_id}/retry")
    assert retried.status_code == 303
    assert retried.headers["location"] == "/admin/partners/outbox?done=retried"
    assert consortium.deliver("cafe").answered == 1
    assert bookshop.balance(ann[1]) == 125  # 300 café points at 0.50 → 1.20 DKK
    assert "Every message has its answer." in get(ui, "/admin/partners/outbox").text
    answered = post(ui, f"/admin/partners/outbox/{message_id}/retry")
    assert answered.status_code == 409


def test_cancelling_a_never_sent_transfer_refunds_the_member_once(
    consortium: Consortium,  # noqa: F811
    ann: tuple[str, str],
) -> None:
    cafe, bookshop = consortium["cafe"], consortium["bookshop"]
    ui = signed_in(cafe, consortium.clock, "operator")
    before = cafe.balance(ann[0])
    transfer(consortium, "cafe", ann[0], "bookshop", 400)
    escrowed = cafe.balance(ann[0])
    assert 0 < before - escrowed <= 400  # in escrow (the fewest points that carry the value)
    message_id, attempts = outbox_row(cafe)
    assert attempts == 0
    listed = get(ui, "/admin/partners/outbox").text
    assert f"/admin/partners/outbox/{message_id}/cancel" in listed
    confirm = get(ui, f"/admin/partners/outbox/{message_id}/cancel")
    assert confirm.status_code == 200 and "Yes, cancel the transfer" in confirm.text
    assert cafe.balance(ann[0]) == escrowed  # asking changes nothing
    done = post(ui, f"/admin/partners/outbox/{message_id}/cancel")
    assert done.status_code == 303
    assert done.headers["location"] == "/admin/partners/outbox?done=cancelled"
    assert cafe.balance(ann[0]) == before
    again = post(ui, f"/admin/partners/outbox/{message_id}/cancel")  # a double submit
    assert again.status_code == 303 and cafe.balance(ann[0]) == before
    assert consortium.deliver("cafe").attempted == 0  # nothing left to send
    assert bookshop.balance(ann[1]) == 0
    with cafe.db.read() as session:
        op = federation_store.operation_by_ref(session=session, ref=f"cafe:{message_id}")
    assert op is not None and (op.status, op.reason) == ("rejected", "cancelled")
    moves = cafe.client.get("/api/v1/me/transfers", headers=cafe.token(ann[0])).json()["items"]
    assert moves[0]["status"] == "rejected"
    assert verify_ledger(cafe.db).ok


def test_only_transfers_can_be_cancelled(consortium: Consortium, ann: tuple[str, str]) -> None:  # noqa: F811
    cafe = consortium["cafe"]
    ui = signed_in(cafe, consortium.clock, "operator")
    apply_program(consortium["bookshop"], [BOOKMARK])
    redeemed = cafe.client.post(
        "/api/v1/me/partner-redemptions",
        json={"partner": "bookshop", "reward": "bookmark"},
        headers={**cafe.token(ann[0]), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert redeemed.status_code == 202, redeemed.text
    with cafe.db.read() as session:
        message_id = str(
            session.execute(
                text("SELECT message_id FROM outbox_message WHERE status = 'pending'")
            ).scalar_one()
        )
    before = cafe.balance(ann[0])
    assert f"{message_id}/cancel" not in get(ui, "/admin/partners/outbox").text
    refused = post(ui, f"/admin/partners/outbox/{message_id}/cancel")
    assert refused.status_code == 409 and "only a transfer" in refused.text
    assert cafe.balance(ann[0]) == before
    assert get(ui, "/admin/partners/outbox/nosuchmessage/cancel").status_code == 404


# -- settlement -----------------------------------------------------------------


@pytest.fixture
def traded(consortium: Consortium, ann: tuple[str, str]) -> Consortium:  # noqa: F811
    """March: 500 café points to the bookshop, 100 bookshop points to the café."""
    consortium["bookshop"].earn(ann[1], 100_000)
    transfer(consortium, "cafe", ann[0], "bookshop", 500)
    transfer(consortium, "bookshop", ann[1], "cafe", 100)
    consortium.settle()
    consortium.clock.advance(AFTER_MARCH)
    return consortium


MARCH_FORM = {"partner": "bookshop", "period_start": "2026-03-01", "period_end": "2026-04-01"}


def send_march(ui: TestClient, **extra: str) -> httpx.Response:
    key = form_key(get(ui, "/admin/settlement").text)
    return post(ui, "/admin/settlement/statements", {**MARCH_FORM, "key": key, **extra})


def test_operator_sends_a_statement_sees_it_agreed_and_records_the_payment(
    traded: Consortium,
) -> None:
    cafe = traded["cafe"]
    ui = signed_in(cafe, traded.clock, "operator")
    assert "No statements yet." in get(ui, "/admin/settlement").text
    sent = send_march(ui)
    assert sent.status_code == 303
    period_path = sent.headers["location"]
    assert "sent, awaiting the answer" in get(ui, period_path).text
    traded.settle()
    page = get(ui, period_path).text
    assert "agreed" in page and "cafe owes bookshop" in page and "129.60" in page
    listed = get(ui, "/admin/settlement").text
    assert period_path in listed and "129.60" in listed

    key = form_key(page)
    wrong = post(ui, f"{period_path}/payments", {"amount": "-5", "reference": "SEPA-1", "key": key})
    assert wrong.status_code == 422
    assert 'id="error-amount"' in wrong.text and 'value="SEPA-1"' in wrong.text
    bad_ref = post(
        ui, f"{period_path}/payments", {"amount": "29.60", "reference": "a b", "key": key}
    )
    assert bad_ref.status_code == 422 and 'id="error-reference"' in bad_ref.text
    assert 'value="29.60"' in bad_ref.text
    too_much = post(ui, f"{period_path}/payments", {"amount": "200", "reference": "X1", "key": key})
    assert too_much.status_code == 422 and "12960 outstanding" in too_much.text

    paid = post(
        ui, f"{period_path}/payments", {"amount": "29,60", "reference": "SEPA-1", "key": key}
    )
    assert paid.status_code == 303 and paid.headers["location"] == f"{period_path}?paid=1"
    twice = post(
        ui, f"{period_path}/payments", {"amount": "29,60", "reference": "SEPA-1", "key": key}
    )
    assert twice.status_code == 303  # the same form again: one payment
    period = cafe.client.get("/api/v1/settlement/periods", headers=cafe.operator()).json()
    [item] = period["items"]
    assert (item["paid_minor"], len(item["payments"])) == (2_960, 1)
    assert item["payments"][0]["recorded_by"].startswith("staff:")
    rest = form_key(get(ui, period_path).text)
    post(ui, f"{period_path}/payments", {"amount": "100", "reference": "SEPA-2", "key": rest})
    settled = get(ui, period_path).text
    assert "settled" in settled and "Record a payment" not in settled


def test_a_disputed_period_shows_the_differing_ids_and_is_sent_again(traded: Consortium) -> None:
    cafe, bookshop = traded["cafe"], traded["bookshop"]
    ui = signed_in(cafe, traded.clock, "operator")

    def add_fake(session: Session) -> None:
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
    period_path = send_march(ui).headers["location"]
    traded.settle()
    page = get(ui, period_path).text
    assert "disputed" in page and FAKE_REF in page and "Record a payment" not in page

    def drop_fake(session: Session) -> None:
        session.execute(text("DELETE FROM clearing_entry WHERE ref = :ref"), {"ref": FAKE_REF})

    bookshop.db.write(drop_fake)
    key = form_key(page)
    again = post(
        ui,
        "/admin/settlement/statements",
        {
            **MARCH_FORM,
            "period_id": period_path.rsplit("/", 1)[1],
            "force": "1",
            "key": key + "-again",
        },
    )
    assert again.status_code == 303 and again.headers["location"] == period_path
    traded.settle()
    page = get(ui, period_path).text
    assert "Record a payment" in page and page.count("disputed") >= 1


def test_statement_form_keeps_input_and_names_the_field(traded: Consortium) -> None:
    cafe = traded["cafe"]
    ui = signed_in(cafe, traded.clock, "operator")
    bad_day = send_march(ui, period_end="April")
    assert bad_day.status_code == 422
    assert 'id="error-period_end"' in bad_day.text and 'value="April"' in bad_day.text
    future = send_march(ui, period_start="2026-04-01", period_end="2027-01-01")
    assert future.status_code == 409 and "not over yet" in future.text
    assert 'value="2027-01-01"' in future.text
    stranger = send_march(ui, partner="nobody")
    assert stranger.status_code == 422 and 'id="error-partner"' in stranger.text
    with cafe.db.read() as session:
        assert session.execute(text("SELECT count(*) FROM settlement_period")).scalar_one() == 0


def test_amounts_are_parsed_to_minor_units() -> None:
    assert parse_amount("129.60", 2) == 12_960
    assert parse_amount(" 1 000,5 ", 2) == 100_050
    for wrong in ("0", "-1", "1.001", "abc", "NaN", "Infinity"):
        with pytest.raises(ValidationFailed):
            parse_amount(wrong, 2)


# -- access ---------------------------------------------------------------------


def test_auditor_reads_without_buttons_and_privacy_officer_sees_nothing(
    traded: Consortium,
) -> None:
    cafe = traded["cafe"]
    period_path = send_march(signed_in(cafe, traded.clock, "operator")).headers["location"]
    traded.settle()
    auditor = signed_in(cafe, traded.clock, "auditor")
    for path in ("/admin/partners", "/admin/partners/outbox", "/admin/settlement", period_path):
        page = get(auditor, path)
        assert page.status_code == 200, path
        assert '<form method="post" action="/admin/settlement' not in page.text
        assert "/admin/partners/keys/rotate" not in page.text
    assert "konsort keys rotate" in get(auditor, "/admin/partners").text
    for path in ("/admin/partners/keys/rotate", "/admin/settlement/statements"):
        assert post(auditor, path, MARCH_FORM).status_code == 403
    assert post(auditor, f"{period_path}/payments", {"amount": "1"}).status_code == 403
    officer = signed_in(cafe, traded.clock, "privacy_officer")
    for path in ("/admin/partners", "/admin/partners/outbox", "/admin/settlement", period_path):
        assert get(officer, path).status_code == 403


def test_unsafe_requests_need_the_same_origin(traded: Consortium) -> None:
    cafe = traded["cafe"]
    ui = signed_in(cafe, traded.clock, "operator")
    forged = ui.post(
        "/admin/settlement/statements",
        data=MARCH_FORM,
        headers={"Origin": "https://evil.example"},
    )
    assert forged.status_code == 403
    cross = ui.post(
        "/admin/partners/keys/rotate",
        data={"newest": "x"},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert cross.status_code == 403
    with cafe.db.read() as session:
        assert session.execute(text("SELECT count(*) FROM settlement_period")).scalar_one() == 0
    assert len(identity.load_signing_keys(cafe.settings.keys_dir, node_id="cafe")) == 1
