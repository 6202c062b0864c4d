"""The member portal's paged history, its sign-out, and the operator API's revocation
of a customer's portal links and sessions."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta

from starlette.testclient import TestClient

from admin_ui import i18n
from admin_ui.portal.history import PAGE_SIZE
from node.clock import ManualClock
from node.db import Database
from node.services import points
from node.services.apikeys import create_api_key
from tests.admin_ui.conftest import BASE, SAME_ORIGIN

ORIGIN = "http://127.0.0.1:8000"


def _auth(db: Database, clock: ManualClock) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_api_key(db, name='shop', now=clock.now()).token}"}


def _customer(ui: TestClient, auth: dict[str, str]) -> str:
    created = ui.post(
        "/api/v1/customers",
        json={"name": "Ada", "email": f"{uuid.uuid4().hex[:8]}@example.org"},
        headers={**auth, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def _link(ui: TestClient, auth: dict[str, str], customer: str) -> str:
    minted = ui.post(f"/api/v1/customers/{customer}/portal-links", headers=auth)
    assert minted.status_code == 201, minted.text
    return str(minted.json()["url"]).removeprefix(ORIGIN)


def _sign_in(client: TestClient, path: str) -> None:
    assert client.post(path, headers=SAME_ORIGIN).status_code == 303


def _rows(page: str) -> list[str]:
    return re.findall(r'<td class="num">([^<]+)</td>', page)


def test_history_pages_go_back_newest_first_in_the_members_language(
    ui: TestClient, db: Database, clock: ManualClock
) -> None:
    auth = _auth(db, clock)
    customer = _customer(ui, auth)
    for amount in range(1, PAGE_SIZE + 6):
        clock.advance(timedelta(days=1))
        bought = ui.post(
            f"/api/v1/customers/{customer}/purchases",
            json={"amount": 100000 + amount * 100},
            headers={**auth, "Idempotency-Key": str(uuid.uuid4())},
        )
        assert bought.status_code in (200, 201), bought.text
    everything: list[dict[str, object]] = []
    cursor = None
    while True:
        found = points.customer_history(db, customer_id=customer, limit=100, cursor=cursor)
        everything += found.items
        if found.next_cursor is None:
            break
        cursor = found.next_cursor
    assert len(everything) > PAGE_SIZE

    _sign_in(ui, _link(ui, auth, customer))
    ui.cookies.set("konsort_lang", "da")
    first = ui.get("/me/history")
    assert first.status_code == 200 and 'lang="da"' in first.text
    shown = _rows(first.text)
    assert len(shown) == PAGE_SIZE
    # Newest first, numbers and dates as Danish readers write them.
    newest = everything[0]
    assert shown[0] == i18n.format_number(newest["points"], "da")
    when = datetime.fromisoformat(str(newest["created_at"]))
    assert f"<td>{i18n.format_date(when, 'da', 'medium')}</td><td>Køb</td>" in first.text
    assert shown == [i18n.format_number(i["points"], "da") for i in everything[:PAGE_SIZE]]
    later = re.search(r'href="(/me/history\?before=[^"]+)" rel="next"', first.text)
    assert later is not None
    second = ui.get(later.group(1).replace("&amp;", "&"))
    assert second.status_code == 200
    assert len(_rows(second.text)) == len(everything) - PAGE_SIZE
    assert 'rel="next"' not in second.text and 'href="/me/history"' in second.text
    assert ui.get("/me/history?before=not-a-cursor").status_code == 400
    home = ui.get("/me/")
    assert 'href="/me/history"' in home.text


def test_signing_out_ends_the_portal_session(
    ui: TestClient, db: Database, clock: ManualClock
) -> None:
    auth = _auth(db, clock)
    customer = _customer(ui, auth)
    _sign_in(ui, _link(ui, auth, customer))
    # A copy of the cookie, as a second browser (or a thief) might hold it.
    replay = TestClient(ui.app, base_url=BASE, follow_redirects=False)
    replay.cookies.set("konsort_member", str(ui.cookies.get("konsort_member")), path="/me")
    assert replay.get("/me/history").status_code == 200
    out = ui.post("/me/signout", headers=SAME_ORIGIN)
    assert out.status_code == 303
    assert ui.get("/me/history").status_code == 401
    # The session is dead on the server too, not only cleared in this browser.
    assert replay.get("/me/history").status_code == 401


def test_the_shop_revokes_unused_links_and_live_sessions(
    ui: TestClient, db: Database, clock: ManualClock
) -> None:
    auth = _auth(db, clock)
    customer, other = _customer(ui, auth), _customer(ui, auth)
    _sign_in(ui, _link(ui, auth, customer))
    unused = _link(ui, auth, customer)
    others_link = _link(ui, auth, other)
    assert ui.get("/me/").status_code == 200

    assert ui.post(f"/api/v1/customers/{customer}/portal-links/revoke").status_code == 401
    revoked = ui.post(f"/api/v1/customers/{customer}/portal-links/revoke", headers=auth)
    assert revoked.status_code == 200
    assert revoked.json() == {"links_revoked": 1, "sessions_ended": 1}
    assert ui.get("/me/").status_code == 401  # signed out at once
    assert ui.post(unused, headers=SAME_ORIGIN).status_code == 410
    again = ui.post(f"/api/v1/customers/{customer}/portal-links/revoke", headers=auth)
    assert again.json() == {"links_revoked": 0, "sessions_ended": 0}
    # Another customer's link is untouched.
    _sign_in(ui, others_link)
    assert ui.get("/me/").status_code == 200
    missing = ui.post("/api/v1/customers/cus_nobody/portal-links/revoke", headers=auth)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
