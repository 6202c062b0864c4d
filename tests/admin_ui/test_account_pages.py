"""My account (password, TOTP enrolment and removal) and an operator's changes to
other staff users (role, disable, TOTP reset), each ending sessions at once."""

from __future__ import annotations

import re

import pyotp
import pytest
from starlette.testclient import TestClient

from node.app import create_app
from node.clock import ManualClock
from node.db import Database
from node.errors import Conflict
from node.secrets import NodeSecrets
from node.services import staff, staff_account
from node.settings import Settings
from tests.admin_ui.conftest import BASE, PASSWORD, SAME_ORIGIN, sign_in

NEW_PASSWORD = "a much longer new passphrase"


def _second_browser(ui: TestClient) -> TestClient:
    return TestClient(ui.app, base_url=BASE, follow_redirects=False)


def _signed_in(client: TestClient) -> bool:
    return client.get("/admin/account").status_code == 200


def _secret(page: str) -> str:
    found = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', page)
    assert found is not None, page
    return found.group(1)


def _pending(page: str) -> str:
    found = re.search(r'name="pending" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def _user(db: Database, username: str) -> staff.StaffAccount:
    return next(u for u in staff.list_users(db) if u.username == username)


def test_a_password_change_needs_the_current_one_and_ends_the_other_sessions(
    ui: TestClient, db: Database, staff_users: dict[str, staff.StaffAccount]
) -> None:
    other = _second_browser(ui)
    sign_in(ui, "operator")
    sign_in(other, "operator")
    url = "/admin/account/password"
    wrong = ui.post(
        url,
        data={
            "current_password": "not it at all",
            "new_password": NEW_PASSWORD,
            "repeat_password": NEW_PASSWORD,
        },
        headers=SAME_ORIGIN,
    )
    assert wrong.status_code == 422 and "That is not your current password." in wrong.text
    short = {"current_password": PASSWORD, "new_password": "short", "repeat_password": "short"}
    too_short = ui.post(url, data=short, headers=SAME_ORIGIN)
    assert too_short.status_code == 422 and "at least 12 characters" in too_short.text
    differ = {**short, "new_password": NEW_PASSWORD, "repeat_password": NEW_PASSWORD + "x"}
    differs = ui.post(url, data=differ, headers=SAME_ORIGIN)
    assert differs.status_code == 422 and "The two new passwords differ." in differs.text
    assert _signed_in(other)  # nothing changed yet

    changed = ui.post(
        url,
        data={
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "repeat_password": NEW_PASSWORD,
        },
        headers=SAME_ORIGIN,
    )
    assert changed.status_code == 303 and changed.headers["location"].endswith("?done=password")
    assert "Your password is changed." in ui.get(changed.headers["location"]).text
    assert not _signed_in(other)  # the other browser is signed out at once
    refused = other.post(
        "/admin/login", data={"username": "operator", "password": PASSWORD}, headers=SAME_ORIGIN
    )
    assert refused.status_code == 401
    sign_in(other, "operator", NEW_PASSWORD)


def test_totp_enrolment_is_active_only_after_a_matching_code(
    ui: TestClient, db: Database, clock: ManualClock, staff_users: dict[str, staff.StaffAccount]
) -> None:
    other = _second_browser(ui)
    sign_in(ui, "privacy-officer")
    sign_in(other, "privacy-officer")
    started = ui.post("/admin/account/totp", headers=SAME_ORIGIN)
    assert started.status_code == 200
    secret = _secret(started.text)
    assert f"otpauth://totp/Konsort:privacy-officer?secret={secret}" in started.text
    assert "<svg" in started.text and 'class="segno"' in started.text
    assert not _user(db, "privacy-officer").has_totp  # nothing stored yet

    pending = _pending(started.text)
    wrong_code = "000000" if pyotp.TOTP(secret).at(clock.now()) != "000000" else "111111"
    wrong = ui.post(
        "/admin/account/totp/confirm",
        data={"pending": pending, "code": wrong_code},
        headers=SAME_ORIGIN,
    )
    assert wrong.status_code == 422 and "That code does not match." in wrong.text
    assert _secret(wrong.text) == secret  # the same set-up is shown again
    assert not _user(db, "privacy-officer").has_totp
    forged = ui.post(
        "/admin/account/totp/confirm",
        data={"pending": "AAAA" + pending[4:], "code": pyotp.TOTP(secret).at(clock.now())},
        headers=SAME_ORIGIN,
    )
    assert forged.status_code == 422 and "This set-up is not valid." in forged.text
    assert not _user(db, "privacy-officer").has_totp

    confirmed = ui.post(
        "/admin/account/totp/confirm",
        data={"pending": pending, "code": pyotp.TOTP(secret).at(clock.now())},
        headers=SAME_ORIGIN,
    )
    assert confirmed.status_code == 303
    assert _user(db, "privacy-officer").has_totp
    assert _signed_in(ui) and not _signed_in(other)
    without_code = other.post(
        "/admin/login",
        data={"username": "privacy-officer", "password": PASSWORD},
        headers=SAME_ORIGIN,
    )
    assert without_code.status_code == 401
    with_code = other.post(
        "/admin/login",
        data={
            "username": "privacy-officer",
            "password": PASSWORD,
            "code": pyotp.TOTP(secret).at(clock.now()),
        },
        headers=SAME_ORIGIN,
    )
    assert with_code.status_code == 303

    # Turning it off needs a valid code too.
    off = ui.post(
        "/admin/account/totp/disable", data={"disable_code": wrong_code}, headers=SAME_ORIGIN
    )
    assert off.status_code == 422 and _user(db, "privacy-officer").has_totp
    off = ui.post(
        "/admin/account/totp/disable",
        data={"disable_code": pyotp.TOTP(secret).at(clock.now())},
        headers=SAME_ORIGIN,
    )
    assert off.status_code == 303 and not _user(db, "privacy-officer").has_totp
    assert not _signed_in(other)


def test_a_privacy_officer_cannot_turn_off_a_required_second_factor(
    settings: Settings, db: Database, clock: ManualClock, node_secrets: NodeSecrets
) -> None:
    strict = settings.model_copy(update={"admin_require_totp_for_privacy_officers": True})
    created = staff.create_user(
        db,
        node_secrets=node_secrets,
        username="pia",
        display_name="Pia",
        role="privacy_officer",
        password=PASSWORD,
        totp=True,
        now=clock.now(),
    )
    assert created.totp_uri is not None
    code = pyotp.parse_uri(created.totp_uri).at(clock.now())
    app = create_app(strict, clock=clock, secrets=node_secrets, database=db, run_jobs=False)
    with TestClient(app, base_url=BASE, follow_redirects=False) as client:
        signed = client.post(
            "/admin/login",
            data={"username": "pia", "password": PASSWORD, "code": code},
            headers=SAME_ORIGIN,
        )
        assert signed.status_code == 303
        page = client.get("/admin/account")
        assert "cannot be turned off" in page.text and "account/totp/disable" not in page.text
        refused = client.post(
            "/admin/account/totp/disable", data={"disable_code": code}, headers=SAME_ORIGIN
        )
        assert refused.status_code == 409 and "requires a second factor" in refused.text
    assert _user(db, "pia").has_totp
    with pytest.raises(Conflict):
        staff_account.disable_totp(
            db,
            node_secrets=node_secrets,
            settings=strict,
            user_id=created.account.id,
            code=code,
            keep_token=None,
            now=clock.now(),
        )


def test_an_auditor_sees_the_account_page_but_changes_nothing(
    ui: TestClient, staff_users: dict[str, staff.StaffAccount]
) -> None:
    sign_in(ui, "auditor")
    page = ui.get("/admin/account")
    assert page.status_code == 200 and "Your role reads only." in page.text
    assert "account/password" not in page.text
    data = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    assert ui.post("/admin/account/password", data=data, headers=SAME_ORIGIN).status_code == 403
    assert ui.post("/admin/account/totp", headers=SAME_ORIGIN).status_code == 403


def test_an_operators_changes_to_a_user_end_that_users_sessions(
    ui: TestClient, db: Database, clock: ManualClock, staff_users: dict[str, staff.StaffAccount]
) -> None:
    officer, auditor = _second_browser(ui), _second_browser(ui)
    sign_in(ui, "operator")
    sign_in(officer, "privacy-officer")
    sign_in(auditor, "auditor")
    listing = ui.get("/admin/users")
    assert "/admin/users/auditor/disable" in listing.text
    assert "/admin/users/operator/disable" not in listing.text  # not oneself

    role = ui.post(
        "/admin/users/privacy-officer/role", data={"role": "auditor"}, headers=SAME_ORIGIN
    )
    assert role.status_code == 303
    assert "Changed the role of privacy-officer" in ui.get(role.headers["location"]).text
    assert _user(db, "privacy-officer").role == "auditor"
    assert not _signed_in(officer) and _signed_in(auditor)

    reset = ui.post("/admin/users/auditor/totp-reset", headers=SAME_ORIGIN)
    assert reset.status_code == 200 and "New second factor for auditor" in reset.text
    secret = re.search(r"secret=([A-Z2-7]+)", reset.text)
    assert secret is not None and _user(db, "auditor").has_totp
    assert not _signed_in(auditor)
    login = {"username": "auditor", "password": PASSWORD}
    code = pyotp.TOTP(secret.group(1)).at(clock.now())
    assert auditor.post("/admin/login", data=login, headers=SAME_ORIGIN).status_code == 401
    signed = auditor.post("/admin/login", data={**login, "code": code}, headers=SAME_ORIGIN)
    assert signed.status_code == 303 and _signed_in(auditor)

    disabled = ui.post("/admin/users/auditor/disable", headers=SAME_ORIGIN)
    assert disabled.status_code == 303 and _user(db, "auditor").status == "disabled"
    assert not _signed_in(auditor)
    again = auditor.post("/admin/login", data={**login, "code": code}, headers=SAME_ORIGIN)
    assert again.status_code == 401


def test_an_operator_cannot_lock_themselves_out_and_bad_input_is_refused(
    ui: TestClient, db: Database, staff_users: dict[str, staff.StaffAccount]
) -> None:
    sign_in(ui, "operator")
    own = ui.post("/admin/users/operator/disable", headers=SAME_ORIGIN)
    assert own.status_code == 409 and "cannot change your own role" in own.text
    assert _user(db, "operator").status == "active" and _signed_in(ui)
    demote = ui.post("/admin/users/operator/role", data={"role": "auditor"}, headers=SAME_ORIGIN)
    assert demote.status_code == 409 and _user(db, "operator").role == "operator"
    bad_role = ui.post("/admin/users/auditor/role", data={"role": "king"}, headers=SAME_ORIGIN)
    assert bad_role.status_code == 422 and "Choose one of the roles." in bad_role.text
    missing = ui.post("/admin/users/nobody/disable", headers=SAME_ORIGIN)
    assert missing.status_code == 404 and "There is no such staff user." in missing.text
    assert _user(db, "auditor").role == "auditor"
    sign_in(ui, "auditor")
    refused = ui.post("/admin/users/operator/disable", headers=SAME_ORIGIN)
    assert refused.status_code == 403
