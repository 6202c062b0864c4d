"""The member portal's one-time sign-in link: minted by the operator API, used once."""

from __future__ import annotations

import uuid
from datetime import timedelta

from starlette.testclient import TestClient

from node.clock import ManualClock
from node.db import Database
from node.services.apikeys import create_api_key
from node.settings import Settings
from tests.admin_ui.conftest import SAME_ORIGIN


def _customer(ui: TestClient, auth: dict[str, str]) -> str:
    created = ui.post(
        "/api/v1/customers",
        json={"name": "Ada", "email": "ada@example.org"},
        headers={**auth, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def _auth(db: Database, clock: ManualClock) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_api_key(db, name='shop', now=clock.now()).token}"}


def _mint(ui: TestClient, auth: dict[str, str], customer: str) -> str:
    minted = ui.post(f"/api/v1/customers/{customer}/portal-links", headers=auth)
    assert minted.status_code == 201, minted.text
    return str(minted.json()["url"])


def test_a_link_signs_in_once(
    ui: TestClient, db: Database, clock: ManualClock, settings: Settings
) -> None:
    auth = _auth(db, clock)
    customer = _customer(ui, auth)
    minted = ui.post(f"/api/v1/customers/{customer}/portal-links", headers=auth)
    body = minted.json()
    assert body["url"].startswith("http://127.0.0.1:8000/me/signin/")
    assert body["expires_at"].startswith(
        (clock.now() + timedelta(seconds=settings.portal_link_ttl_seconds)).strftime(
            "%Y-%m-%dT%H:%M"
        )
    )
    path = body["url"].removeprefix("http://127.0.0.1:8000")
    confirm = ui.get(path)  # a link preview or mail scanner does not use it up
    assert confirm.status_code == 200 and "Continue" in confirm.text
    signed_in = ui.post(path, headers=SAME_ORIGIN)
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/me/"
    assert "samesite=strict" in signed_in.headers["set-cookie"].lower()
    home = ui.get("/me/")
    assert home.status_code == 200 and 'id="points"' in home.text
    again = ui.post(path, headers=SAME_ORIGIN)
    assert again.status_code == 410 and "already used" in again.text
    assert ui.post("/me/signout", headers=SAME_ORIGIN).status_code == 303
    assert ui.get("/me/").status_code == 401


def test_an_expired_link_is_refused(
    ui: TestClient, db: Database, clock: ManualClock, settings: Settings
) -> None:
    auth = _auth(db, clock)
    path = _mint(ui, auth, _customer(ui, auth)).removeprefix("http://127.0.0.1:8000")
    clock.advance(timedelta(seconds=settings.portal_link_ttl_seconds))
    assert ui.post(path, headers=SAME_ORIGIN).status_code == 410
    assert ui.get("/me/").status_code == 401


def test_portal_session_expires(
    ui: TestClient, db: Database, clock: ManualClock, settings: Settings
) -> None:
    auth = _auth(db, clock)
    path = _mint(ui, auth, _customer(ui, auth)).removeprefix("http://127.0.0.1:8000")
    assert ui.post(path, headers=SAME_ORIGIN).status_code == 303
    clock.advance(timedelta(minutes=settings.portal_session_minutes))
    assert ui.get("/me/").status_code == 401


def test_minting_needs_an_operator_key_and_a_real_customer(
    ui: TestClient, db: Database, clock: ManualClock
) -> None:
    assert ui.post("/api/v1/customers/cus_x/portal-links").status_code == 401
    missing = ui.post("/api/v1/customers/cus_nobody/portal-links", headers=_auth(db, clock))
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


def test_a_made_up_token_is_refused(ui: TestClient) -> None:
    assert ui.post("/me/signin/not-a-token", headers=SAME_ORIGIN).status_code == 410


def test_a_cross_site_post_cannot_use_a_link(
    ui: TestClient, db: Database, clock: ManualClock
) -> None:
    auth = _auth(db, clock)
    path = _mint(ui, auth, _customer(ui, auth)).removeprefix("http://127.0.0.1:8000")
    assert ui.post(path, headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert ui.post(path, headers=SAME_ORIGIN).status_code == 303


def test_the_link_uses_the_public_base_url(
    settings: Settings, db: Database, clock: ManualClock, node_secrets: object
) -> None:
    from node.app import create_app

    public = settings.model_copy(update={"public_base_url": "https://loyalty.cafe.example/"})
    app = create_app(public, clock=clock, secrets=node_secrets, database=db, run_jobs=False)  # type: ignore[arg-type]
    with TestClient(app, base_url="https://cafe.test") as client:
        auth = _auth(db, clock)
        url = _mint(client, auth, _customer(client, auth))
    assert url.startswith("https://loyalty.cafe.example/me/signin/")
