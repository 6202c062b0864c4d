"""The member portal's other pages over HTTP: my data (a copy, deletion, the
requests' state, the export download) and donations (named or anonymous, the
signed receipt)."""

from __future__ import annotations

import io
import json
import re
import uuid
import zipfile

import pytest

from tests.admin_ui.test_portal_pages import form_key, origin, portal
from tests.node.federation.conftest import Consortium, Node, consortium  # noqa: F401

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _requests(node: Node, customer: str) -> list[dict[str, object]]:
    found = node.client.get("/api/v1/me/requests", headers=node.token(customer))
    assert found.status_code == 200, found.text
    items: list[dict[str, object]] = found.json()["items"]
    return items


def test_my_data_pages_need_a_member_session(consortium: Consortium) -> None:  # noqa: F811
    cafe = consortium["cafe"]
    for path in ("/me/data", "/me/donate", "/me/data/dsr_x/export", "/me/donations/don_x/receipt"):
        refused = cafe.client.get(path)
        assert refused.status_code == 401 and "link from the shop" in refused.text
    posted = cafe.client.post(
        "/me/data", data={"type": "erasure"}, headers={"Origin": "http://cafe.test"}
    )
    assert posted.status_code == 401


def test_a_member_asks_for_a_copy_and_downloads_it_when_done(
    consortium: Consortium,  # noqa: F811
) -> None:
    cafe = consortium["cafe"]
    ann = cafe.enrol()
    member = portal(cafe, ann)
    page = member.get("/me/data")
    assert page.status_code == 200 and "You have made no requests." in page.text
    ask = {"type": "access", "form_key": form_key(page.text)}
    first = member.post("/me/data", data=ask, headers=origin(cafe))
    again = member.post("/me/data", data=ask, headers=origin(cafe))  # double submit
    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == "/me/data?filed=access"
    filed = _requests(cafe, ann)
    assert len(filed) == 1
    request = filed[0]
    # Filed with the member's own session: verified at once, as with the customer token.
    assert request["state"] == "identity_verified"
    assert request["verification"] == {
        "method": "customer_token",
        "verified_at": request["received_at"],
        "verified_by": "customer",
    }
    listed = member.get(first.headers["location"])
    assert "We have your request for a copy of your data." in listed.text
    assert "identity verified" in listed.text
    export = f"/me/data/{request['id']}/export"
    assert export not in listed.text
    assert member.get(export).status_code == 409  # not approved yet
    approved = cafe.client.post(
        f"/api/v1/privacy/requests/{request['id']}/approve",
        headers={**cafe.operator(), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert approved.status_code == 200, approved.text
    done = member.get("/me/data")
    assert export in done.text and "done" in done.text
    download = member.get(export)
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        document = json.loads(archive.read("export.json"))
    assert document["customer_id"] == ann and document["request_id"] == request["id"]
    # Another member cannot fetch it.
    bob = portal(cafe, cafe.enrol())
    assert bob.get(export).status_code == 404


def test_a_deletion_request_needs_the_box_ticked_and_shows_its_state(
    consortium: Consortium,  # noqa: F811
) -> None:
    cafe = consortium["cafe"]
    ann = cafe.enrol()
    member = portal(cafe, ann)
    page = member.get("/me/data")
    key = form_key(page.text)
    unticked = member.post(
        "/me/data", data={"type": "erasure", "form_key": key}, headers=origin(cafe)
    )
    assert unticked.status_code == 422
    assert 'id="error-confirm"' in unticked.text and "Tick the box" in unticked.text
    assert _requests(cafe, ann) == []
    ticked = member.post(
        "/me/data",
        data={"type": "erasure", "form_key": form_key(unticked.text), "confirm": "yes"},
        headers=origin(cafe),
    )
    assert ticked.status_code == 303
    filed = _requests(cafe, ann)
    assert [(r["type"], r["state"]) for r in filed] == [("erasure", "identity_verified")]
    listed = member.get(ticked.headers["location"], headers={"Accept-Language": "da"})
    assert "Vi har modtaget din anmodning om at slette dine data." in listed.text
    assert "<td>sletning</td>" in listed.text
    bad = member.post("/me/data", data={"type": "objection"}, headers=origin(cafe))
    assert bad.status_code == 422 and 'role="alert"' in bad.text
    assert len(_requests(cafe, ann)) == 1


def _donation(consortium: Consortium, anonymous: bool) -> tuple[Node, str, object, str]:  # noqa: F811
    cafe = consortium["cafe"]
    ann = cafe.enrol()
    cafe.earn(ann, 100_000)  # 1,000 café points
    member = portal(cafe, ann)
    page = member.get("/me/donate")
    assert page.status_code == 200 and '<option value="charity"' in page.text
    give = {"charity": "charity", "points": "200", "form_key": form_key(page.text)}
    if anonymous:
        give["anonymous"] = "yes"
    first = member.post("/me/donate", data=give, headers=origin(cafe))
    again = member.post("/me/donate", data=give, headers=origin(cafe))  # double submit
    assert first.status_code == again.status_code == 303, first.text
    assert first.headers["location"] == "/me/donate?given"
    assert cafe.balance(ann) == 800
    return cafe, ann, member, first.headers["location"]


def test_a_member_donates_and_downloads_the_signed_receipt(
    consortium: Consortium,  # noqa: F811
) -> None:
    cafe, ann, member, location = _donation(consortium, anonymous=True)
    pending = member.get(location)  # type: ignore[attr-defined]
    assert "Thank you. Your donation is on its way." in pending.text
    assert "on its way" in pending.text and "/receipt" not in pending.text
    consortium.settle()
    done = member.get("/me/donate")  # type: ignore[attr-defined]
    assert "received by the charity" in done.text and "(anonymous)" in done.text
    link = re.search(r'href="(/me/donations/(don_[^/"]+)/receipt)"', done.text)
    assert link is not None
    download = member.get(link.group(1))  # type: ignore[attr-defined]
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("application/json")
    document = download.json()
    assert document["donation"] == link.group(2) and document["charity"] == "charity"
    assert document["answer_token"].count(".") == 2  # a compact JWS
    api = cafe.client.get(f"/api/v1/me/donations/{link.group(2)}/receipt", headers=cafe.token(ann))
    assert api.json()["answer_token"] == document["answer_token"]


def test_a_donation_form_keeps_what_was_typed_and_says_what_is_wrong(
    consortium: Consortium,  # noqa: F811
) -> None:
    cafe = consortium["cafe"]
    ann = cafe.enrol()
    cafe.earn(ann, 10_000)  # 100 café points
    member = portal(cafe, ann)
    key = form_key(member.get("/me/donate").text)
    for typed, status in (("ten", 422), ("0", 422), ("101", 409)):
        answer = member.post(
            "/me/donate",
            data={"charity": "charity", "points": typed, "form_key": key},
            headers=origin(cafe),
        )
        assert answer.status_code == status, (typed, answer.text)
        assert 'id="error-points"' in answer.text and f'value="{typed}"' in answer.text
    not_a_charity = member.post(
        "/me/donate",
        data={"charity": "bookshop", "points": "10", "form_key": str(uuid.uuid4())},
        headers=origin(cafe),
    )
    assert not_a_charity.status_code == 409 and 'id="error-charity"' in not_a_charity.text
    assert cafe.balance(ann) == 100
    assert member.get("/me/donations/don_nope/receipt").status_code == 404


def test_a_member_links_accounts_with_a_code_from_the_partner(
    consortium: Consortium,  # noqa: F811
) -> None:
    cafe, bookshop = consortium["cafe"], consortium["bookshop"]
    ann_cafe, ann_books = cafe.enrol(), bookshop.enrol()
    at_books, at_cafe = portal(bookshop, ann_books), portal(cafe, ann_cafe)
    page = at_books.get("/me/partners")
    assert page.status_code == 200 and '<option value="cafe"' in page.text
    assert '<option value="charity"' not in page.text  # only businesses link
    issued = at_books.post("/me/partners/code", data={"partner": "cafe"}, headers=origin(bookshop))
    assert issued.status_code == 200, issued.text
    code = re.search(r'<code id="issued-code">([^<]+)</code>', issued.text)
    subject = re.search(r'<code id="issued-subject">([^<]+)</code>', issued.text)
    assert code is not None and subject is not None
    form = at_cafe.get("/me/partners")
    entered = {
        "partner": "bookshop",
        "link_code": code.group(1),
        "subject": subject.group(1),
        "form_key": form_key(form.text),
    }
    first = at_cafe.post("/me/partners", data=entered, headers=origin(cafe))
    again = at_cafe.post("/me/partners", data=entered, headers=origin(cafe))  # double submit
    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == "/me/partners?asked"
    waiting = at_cafe.get(first.headers["location"])
    assert "The partner is asked to link your accounts." in waiting.text
    assert "waiting for the partner" in waiting.text
    consortium.settle()
    assert "<td>linked</td>" in at_cafe.get("/me/partners").text
    assert "<td>linked</td>" in at_books.get("/me/partners").text
    assert '<option value="bookshop"' in at_cafe.get("/me/transfer").text


def test_a_link_form_keeps_what_was_typed_and_says_what_is_wrong(
    consortium: Consortium,  # noqa: F811
) -> None:
    cafe = consortium["cafe"]
    ann = cafe.enrol()
    member = portal(cafe, ann)
    key = form_key(member.get("/me/partners").text)
    empty = member.post(
        "/me/partners",
        data={"partner": "bookshop", "link_code": "Labc", "subject": "", "form_key": key},
        headers=origin(cafe),
    )
    assert empty.status_code == 422 and 'id="error-subject"' in empty.text
    assert 'value="Labc"' in empty.text
    bad = member.post(
        "/me/partners",
        data={"partner": "bookshop", "link_code": "x y", "subject": "?", "form_key": key},
        headers=origin(cafe),
    )
    assert bad.status_code == 422 and 'id="error-link_code"' in bad.text
    own = member.post("/me/partners/code", data={"partner": "cafe"}, headers=origin(cafe))
    assert own.status_code == 422 and 'role="alert"' in own.text
    assert "not this one" in own.text and 'id="issued-code"' not in own.text
    links = cafe.client.get("/api/v1/me/links", headers=cafe.token(ann))
    assert links.json()["items"] == []


def test_without_consent_to_partner_transfers_no_link_code_is_given(
    consortium: Consortium,  # noqa: F811
) -> None:
    cafe = consortium["cafe"]
    member = portal(cafe, cafe.enrol(partner_transfers=False))
    refused = member.post("/me/partners/code", data={"partner": "bookshop"}, headers=origin(cafe))
    assert refused.status_code == 403 and 'role="alert"' in refused.text
    assert "needs your consent to partner transfers" in refused.text
    assert 'id="issued-code"' not in refused.text


def test_a_member_redeems_a_partner_reward_once_and_sees_the_voucher(
    consortium: Consortium,  # noqa: F811
) -> None:
    from tests.node.federation.test_partner_rewards import BOOK_VOUCHER, apply_program

    cafe, bookshop = consortium["cafe"], consortium["bookshop"]
    apply_program(bookshop, [BOOK_VOUCHER])
    ann_cafe, ann_books = cafe.enrol(), bookshop.enrol()
    cafe.earn(ann_cafe, 100_000)  # 1,000 café points
    member = portal(cafe, ann_cafe)
    assert "not linked with a partner yet" in member.get("/me/rewards").text
    consortium.link("cafe", ann_cafe, "bookshop", ann_books)
    page = member.get("/me/rewards")
    assert page.status_code == 200, page.text
    # The 80-point bookshop voucher costs 192 café points (1.20 DKK against 0.50 DKK).
    assert "Book voucher 100 DKK" in page.text and '<td class="num">192</td>' in page.text
    key = form_key(page.text)
    redeem = {"partner": "bookshop", "reward": "book-voucher", "form_key": key}
    first = member.post("/me/rewards", data=redeem, headers=origin(cafe))
    again = member.post("/me/rewards", data=redeem, headers=origin(cafe))  # double submit
    assert first.status_code == again.status_code == 303, first.text
    assert cafe.balance(ann_cafe) == 808
    pending = member.get(first.headers["location"])
    assert "Your reward is on its way." in pending.text and 'class="voucher"' not in pending.text
    consortium.settle()
    ready = member.get("/me/rewards")
    voucher = re.search(r'<code class="voucher">([^<]+)</code>', ready.text)
    assert voucher is not None and "ready" in ready.text
    checked = bookshop.client.get(
        f"/api/v1/vouchers/{voucher.group(1)}", headers=bookshop.operator()
    )
    assert checked.status_code == 200 and checked.json()["customer_id"] == ann_books
    unknown = member.post(
        "/me/rewards",
        data={"partner": "bookshop", "reward": "nothing", "form_key": str(uuid.uuid4())},
        headers=origin(cafe),
    )
    assert unknown.status_code in (404, 409, 422) and 'role="alert"' in unknown.text
    assert cafe.balance(ann_cafe) == 808
