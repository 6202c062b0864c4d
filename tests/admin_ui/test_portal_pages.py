"""The member portal's pages over HTTP: the start page, moving points to a
partner (preview, confirm once, refusals) and consents."""

from __future__ import annotations

import re
import uuid
from urllib.parse import urlsplit

import pytest
from starlette.testclient import TestClient

from node.clock import ManualClock
from node.db import Database
from node.services.apikeys import create_api_key
from tests.admin_ui.conftest import SAME_ORIGIN
from tests.node.federation.conftest import Consortium, Node, consortium  # noqa: F401

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def member_client(
    app: object, base: str, mint: TestClient, auth: dict[str, str], customer: str
) -> TestClient:
    """A browser-like client signed in to the portal as ``customer``."""
    minted = mint.post(f"/api/v1/customers/{customer}/portal-links", headers=auth)
    assert minted.status_code == 201, minted.text
    client = TestClient(app, base_url=base, follow_redirects=False)  # type: ignore[arg-type]
    signed_in = client.post(urlsplit(minted.json()["url"]).path, headers={"Origin": base})
    assert signed_in.status_code == 303, signed_in.text
    return client


def portal(node: Node, customer: str) -> TestClient:
    base = f"https://{node.node_id}.test"
    return member_client(node.app, base, node.client, node.operator(), customer)


def origin(node: Node) -> dict[str, str]:
    return {"Origin": f"https://{node.node_id}.test"}


def form_key(html: str) -> str:
    found = re.search(r'name="form_key" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def test_portal_pages_need_a_member_session(ui: TestClient) -> None:
    for path in ("/me/", "/me/transfer", "/me/consents"):
        refused = ui.get(path)
        assert refused.status_code == 401 and "link from the shop" in refused.text
    assert ui.post("/me/transfer", data={"partner": "x"}, headers=SAME_ORIGIN).status_code == 401


def test_the_start_page_shows_balance_expiry_and_history(
    ui: TestClient, db: Database, clock: ManualClock
) -> None:
    auth = {"Authorization": f"Bearer {create_api_key(db, name='shop', now=clock.now()).token}"}
    created = ui.post(
        "/api/v1/customers",
        json={"name": "Ada", "email": "ada@example.org"},
        headers={**auth, "Idempotency-Key": str(uuid.uuid4())},
    )
    customer = created.json()["id"]
    bought = ui.post(
        f"/api/v1/customers/{customer}/purchases",
        json={"amount": 12_300},
        headers={**auth, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert bought.status_code == 201, bought.text
    points = bought.json()["balance"]
    member = member_client(ui.app, "https://cafe.test", ui, auth, customer)
    home = member.get("/me/")
    assert home.status_code == 200
    assert f'<strong id="points">{points}</strong>' in home.text
    assert "Purchase" in home.text  # the history row, labelled for the member
    assert "No points expire within 30 days." in home.text
    danish = member.get("/me/", headers={"Accept-Language": "da"})
    assert "Dit medlemskab" in danish.text and "Køb" in danish.text


def test_a_member_previews_then_moves_points_once(consortium: Consortium) -> None:  # noqa: F811
    cafe, bookshop = consortium["cafe"], consortium["bookshop"]
    ann_cafe, ann_books = cafe.enrol(), bookshop.enrol()
    cafe.earn(ann_cafe, 100_000)  # 1,000 café points
    consortium.link("cafe", ann_cafe, "bookshop", ann_books)
    member = portal(cafe, ann_cafe)
    form = member.get("/me/transfer")
    assert form.status_code == 200 and '<option value="bookshop"' in form.text
    preview = member.post(
        "/me/transfer/preview", data={"partner": "bookshop", "points": "500"}, headers=origin(cafe)
    )
    assert preview.status_code == 200, preview.text
    # 500 café points at 0.50 DKK buy 208 bookshop points at 1.20 DKK.
    assert "500 of your points become 208 points at Bookshop." in preview.text
    assert cafe.balance(ann_cafe) == 1000  # a preview moves nothing
    confirm = {"partner": "bookshop", "points": "500", "form_key": form_key(preview.text)}
    first = member.post("/me/transfer", data=confirm, headers=origin(cafe))
    again = member.post("/me/transfer", data=confirm, headers=origin(cafe))  # double submit
    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == "/me/?moved"
    assert cafe.balance(ann_cafe) == 500
    consortium.settle()
    assert bookshop.balance(ann_books) == 208
    listed = member.get("/me/transfer")
    assert "done" in listed.text and "208" in listed.text


def test_a_transfer_form_keeps_what_was_typed_and_says_what_is_wrong(
    consortium: Consortium,  # noqa: F811
) -> None:
    cafe, bookshop = consortium["cafe"], consortium["bookshop"]
    ann_cafe, ann_books = cafe.enrol(), bookshop.enrol()
    cafe.earn(ann_cafe, 10_000)  # 100 café points
    consortium.link("cafe", ann_cafe, "bookshop", ann_books)
    member = portal(cafe, ann_cafe)
    for typed, status, message in (
        ("ten", 422, "Enter a whole number of points."),
        ("101", 422, "you have 100 points"),
        ("1", 422, "1 points buy no whole point at bookshop"),
    ):
        answer = member.post(
            "/me/transfer/preview",
            data={"partner": "bookshop", "points": typed},
            headers=origin(cafe),
        )
        assert answer.status_code == status, (typed, answer.text)
        assert 'id="error-points"' in answer.text and message in answer.text
        assert f'value="{typed}"' in answer.text
    stranger = member.post(
        "/me/transfer/preview", data={"partner": "charity", "points": "10"}, headers=origin(cafe)
    )
    assert stranger.status_code == 409 and 'id="error-partner"' in stranger.text
    assert cafe.balance(ann_cafe) == 100


def test_withdrawing_partner_transfer_consent_refuses_the_next_transfer(
    consortium: Consortium,  # noqa: F811
) -> None:
    cafe, bookshop = consortium["cafe"], consortium["bookshop"]
    ann_cafe, ann_books = cafe.enrol(), bookshop.enrol()
    cafe.earn(ann_cafe, 100_000)
    consortium.link("cafe", ann_cafe, "bookshop", ann_books)
    member = portal(cafe, ann_cafe)
    preview = member.post(
        "/me/transfer/preview", data={"partner": "bookshop", "points": "300"}, headers=origin(cafe)
    )
    key = form_key(preview.text)
    page = member.get("/me/consents")
    assert 'id="state-partner_transfers">Given' in page.text
    withdrawn = member.post(
        "/me/consents/partner_transfers",
        data={"granted": "0", "form_key": form_key(page.text)},
        headers=origin(cafe),
    )
    assert withdrawn.status_code == 303
    after = member.get(withdrawn.headers["location"])
    assert 'id="state-partner_transfers">Withdrawn' in after.text
    refused = member.post(
        "/me/transfer",
        data={"partner": "bookshop", "points": "300", "form_key": key},
        headers=origin(cafe),
    )
    assert refused.status_code == 403
    assert "needs your consent to partner transfers" in refused.text
    assert cafe.balance(ann_cafe) == 1000
    given = member.post(
        "/me/consents/partner_transfers",
        data={"granted": "1", "form_key": form_key(after.text)},
        headers=origin(cafe),
    )
    assert given.status_code == 303
    assert 'id="state-partner_transfers">Given' in member.get("/me/consents").text


def test_a_consent_change_with_a_bad_form_is_refused_clearly(consortium: Consortium) -> None:  # noqa: F811
    cafe = consortium["cafe"]
    member = portal(cafe, cafe.enrol())
    bad = member.post(
        "/me/consents/partner_transfers", data={"granted": "maybe"}, headers=origin(cafe)
    )
    assert bad.status_code == 422 and "could not be made" in bad.text
    unknown = member.post(
        "/me/consents/no_such_purpose",
        data={"granted": "1", "form_key": str(uuid.uuid4())},
        headers=origin(cafe),
    )
    assert unknown.status_code in (404, 422) and 'role="alert"' in unknown.text
