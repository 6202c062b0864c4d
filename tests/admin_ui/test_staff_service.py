"""node.services.staff: accounts, sign-in, throttling, sessions, portal links."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest

from node.clock import ManualClock
from node.db import Database
from node.errors import Conflict, NotFound, ValidationFailed
from node.secrets import NodeSecrets
from node.services import staff
from node.settings import Settings
from tests.admin_ui.conftest import PASSWORD, make_staff


def _sign_in(
    db: Database,
    node_secrets: NodeSecrets,
    settings: Settings,
    clock: ManualClock,
    username: str,
    password: str = PASSWORD,
    *,
    code: str = "",
    address: str = "10.0.0.1",
) -> staff.SignedIn:
    return staff.sign_in(
        db,
        node_secrets=node_secrets,
        settings=settings,
        username=username,
        password=password,
        totp_code=code,
        address=address,
        now=clock.now(),
    )


def test_create_and_sign_in(
    db: Database, node_secrets: NodeSecrets, settings: Settings, clock: ManualClock
) -> None:
    created = make_staff(db, node_secrets, clock, role="operator", username="Ola")
    assert created.account.username == "ola" and created.totp_uri is None
    signed_in = _sign_in(db, node_secrets, settings, clock, "OLA")
    assert signed_in.account.id == created.account.id
    found = staff.session_account(db, token=signed_in.token, settings=settings, now=clock.now())
    assert found == created.account
    with db.read() as session:
        from node.store.staff_models import StaffSession, StaffUser

        stored = session.get(StaffSession, staff.token_digest(signed_in.token))
        user = session.get(StaffUser, created.account.id)
    assert stored is not None and signed_in.token not in stored.id
    assert user is not None and user.password_hash.startswith("$argon2id$")


@pytest.mark.parametrize(
    ("field", "overrides"),
    [
        ("username", {"username": " "}),
        ("username", {"username": "has space"}),
        ("role", {"role": "admin"}),
        ("password", {"password": "short"}),
    ],
)
def test_create_refuses_bad_input(
    db: Database,
    node_secrets: NodeSecrets,
    clock: ManualClock,
    field: str,
    overrides: dict[str, str],
) -> None:
    values = {"username": "kari", "role": "auditor", "password": PASSWORD, **overrides}
    with pytest.raises(ValidationFailed) as caught:
        staff.create_user(
            db, node_secrets=node_secrets, display_name="", totp=False, now=clock.now(), **values
        )
    assert caught.value.field == field
    assert staff.list_users(db) == []


def test_duplicate_username_conflicts(
    db: Database, node_secrets: NodeSecrets, clock: ManualClock
) -> None:
    make_staff(db, node_secrets, clock, role="operator", username="kari")
    with pytest.raises(Conflict):
        make_staff(db, node_secrets, clock, role="auditor", username="Kari")


def test_wrong_password_then_throttled_per_account(
    db: Database, node_secrets: NodeSecrets, settings: Settings, clock: ManualClock
) -> None:
    make_staff(db, node_secrets, clock, role="operator", username="kari")
    for attempt in range(settings.admin_login_max_attempts):
        with pytest.raises(staff.SignInRefused):
            _sign_in(
                db,
                node_secrets,
                settings,
                clock,
                "kari",
                "wrong password!",
                address=f"10.0.0.{attempt}",
            )
    # Now even the right password is refused, from any address, until the window passes.
    with pytest.raises(staff.TooManyAttempts) as caught:
        _sign_in(db, node_secrets, settings, clock, "kari", address="10.9.9.9")
    assert caught.value.retry_after_minutes == 15
    clock.advance(timedelta(minutes=10))
    with pytest.raises(staff.TooManyAttempts) as caught:
        _sign_in(db, node_secrets, settings, clock, "kari")
    assert caught.value.retry_after_minutes == 5
    clock.advance(timedelta(minutes=5, seconds=1))
    assert _sign_in(db, node_secrets, settings, clock, "kari").account.username == "kari"


def test_throttled_per_address(
    db: Database, node_secrets: NodeSecrets, settings: Settings, clock: ManualClock
) -> None:
    make_staff(db, node_secrets, clock, role="operator", username="kari")
    for attempt in range(settings.admin_login_max_attempts * staff.ADDRESS_FACTOR):
        with pytest.raises(staff.SignInRefused):
            _sign_in(db, node_secrets, settings, clock, f"guess{attempt}", address="10.6.6.6")
    with pytest.raises(staff.TooManyAttempts):
        _sign_in(db, node_secrets, settings, clock, "kari", address="10.6.6.6")
    assert _sign_in(db, node_secrets, settings, clock, "kari", address="10.1.1.1")


def test_unknown_user_and_disabled_user_are_refused_alike(
    db: Database, node_secrets: NodeSecrets, settings: Settings, clock: ManualClock
) -> None:
    make_staff(db, node_secrets, clock, role="auditor", username="kari")
    signed_in = _sign_in(db, node_secrets, settings, clock, "kari")
    staff.disable_user(db, username="kari", now=clock.now())
    assert (
        staff.session_account(db, token=signed_in.token, settings=settings, now=clock.now()) is None
    )
    for name in ("kari", "nobody"):
        with pytest.raises(staff.SignInRefused) as caught:
            _sign_in(db, node_secrets, settings, clock, name)
        assert caught.value.message == "wrong username, password or code"


@pytest.mark.parametrize("change", ["role", "password", "disable"])
def test_changes_end_every_session_at_once(
    db: Database, node_secrets: NodeSecrets, settings: Settings, clock: ManualClock, change: str
) -> None:
    make_staff(db, node_secrets, clock, role="operator", username="kari")
    first = _sign_in(db, node_secrets, settings, clock, "kari")
    second = _sign_in(db, node_secrets, settings, clock, "kari")
    if change == "role":
        assert (
            staff.set_role(db, username="kari", role="auditor", now=clock.now()).role == "auditor"
        )
    elif change == "password":
        staff.change_password(db, username="kari", password="another long secret", now=clock.now())
    else:
        staff.disable_user(db, username="kari", now=clock.now())
    for signed_in in (first, second):
        assert (
            staff.session_account(db, token=signed_in.token, settings=settings, now=clock.now())
            is None
        )


def test_sign_out_ends_the_session(
    db: Database, node_secrets: NodeSecrets, settings: Settings, clock: ManualClock
) -> None:
    make_staff(db, node_secrets, clock, role="operator", username="kari")
    signed_in = _sign_in(db, node_secrets, settings, clock, "kari")
    staff.end_session(db, token=signed_in.token, now=clock.now())
    assert (
        staff.session_account(db, token=signed_in.token, settings=settings, now=clock.now()) is None
    )


def test_idle_and_absolute_timeouts(
    db: Database, node_secrets: NodeSecrets, settings: Settings, clock: ManualClock
) -> None:
    make_staff(db, node_secrets, clock, role="operator", username="kari")
    idle = timedelta(minutes=settings.admin_session_idle_minutes)
    signed_in = _sign_in(db, node_secrets, settings, clock, "kari")
    clock.advance(idle - timedelta(seconds=1))
    assert staff.session_account(db, token=signed_in.token, settings=settings, now=clock.now())
    clock.advance(idle)  # idle again since the last request
    assert (
        staff.session_account(db, token=signed_in.token, settings=settings, now=clock.now()) is None
    )

    kept_busy = _sign_in(db, node_secrets, settings, clock, "kari")
    started = clock.now()
    while clock.now() - started < timedelta(hours=settings.admin_session_absolute_hours):
        assert staff.session_account(db, token=kept_busy.token, settings=settings, now=clock.now())
        clock.advance(idle / 2)
    assert (
        staff.session_account(db, token=kept_busy.token, settings=settings, now=clock.now()) is None
    )


def test_totp_second_factor(
    db: Database, node_secrets: NodeSecrets, settings: Settings, clock: ManualClock
) -> None:
    created = make_staff(db, node_secrets, clock, role="privacy_officer", username="dpo", totp=True)
    assert created.totp_uri is not None and created.account.has_totp
    secret = pyotp.parse_uri(created.totp_uri).secret
    with pytest.raises(staff.SignInRefused):
        _sign_in(db, node_secrets, settings, clock, "dpo")
    with pytest.raises(staff.SignInRefused):
        _sign_in(
            db,
            node_secrets,
            settings,
            clock,
            "dpo",
            code="000000" if pyotp.TOTP(secret).at(clock.now()) != "000000" else "111111",
        )
    code = pyotp.TOTP(secret).at(clock.now())
    assert (
        _sign_in(db, node_secrets, settings, clock, "dpo", code=code).account.role
        == "privacy_officer"
    )
    with db.read() as session:
        from node.store.staff_models import StaffUser

        user = session.get(StaffUser, created.account.id)
    assert user is not None and user.totp_secret is not None
    assert secret.encode() not in user.totp_secret


def test_privacy_officers_may_be_required_to_have_totp(
    db: Database, node_secrets: NodeSecrets, settings: Settings, clock: ManualClock
) -> None:
    strict = settings.model_copy(update={"admin_require_totp_for_privacy_officers": True})
    make_staff(db, node_secrets, clock, role="privacy_officer", username="dpo")
    make_staff(db, node_secrets, clock, role="operator", username="ops")
    with pytest.raises(staff.SignInRefused) as caught:
        _sign_in(db, node_secrets, strict, clock, "dpo")
    assert caught.value.code == "totp_required"
    assert _sign_in(db, node_secrets, strict, clock, "ops")
    uri = staff.reset_totp(db, node_secrets=node_secrets, username="dpo", now=clock.now())
    code = pyotp.TOTP(pyotp.parse_uri(uri).secret).at(clock.now())
    assert _sign_in(db, node_secrets, strict, clock, "dpo", code=code)


def test_unknown_user_for_changes(db: Database, clock: ManualClock) -> None:
    with pytest.raises(NotFound):
        staff.set_role(db, username="ghost", role="auditor", now=clock.now())
