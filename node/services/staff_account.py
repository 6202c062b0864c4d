"""A staff member's own account: change the password, enrol or disable a TOTP
second factor; and an operator's changes to another user that must end their
sessions (role, disable, TOTP reset) guarded against locking oneself out.

Every change here ends the user's other sessions in the same transaction
(the issue: "sign-out, password change and role change end the session at
once"); the browser that made its own change stays signed in.

TOTP enrolment is two steps and stores nothing until it is confirmed: the
first gives a fresh secret, its otpauth URI (and a QR code of it) and a
*pending* token, the secret sealed with AES-GCM under the node's TOTP key
and bound to the user id, which the confirm form sends back with a code
from the app. Only a code that verifies makes the secret the account's.
Disabling needs a valid code too, and is refused to a privacy officer while
``admin_require_totp_for_privacy_officers`` is on.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime

import pyotp
import segno
from cryptography.exceptions import InvalidTag
from sqlmodel import Session

from node.db import Database
from node.errors import Conflict, ValidationFailed
from node.secrets import NodeSecrets
from node.services import staff
from node.settings import Settings
from node.store import staff as store
from node.store.staff_models import StaffUser


@dataclass(frozen=True)
class TotpEnrolment:
    secret: str
    uri: str
    #: The secret sealed for the confirm form (only this node can open it).
    pending: str
    #: The URI as a QR code, an SVG document.
    qr_svg: str


def _user_txn(*, session: Session, user_id: str) -> StaffUser:
    user = store.user_by_id(session=session, user_id=user_id)
    if user is None or user.status != "active":
        raise Conflict("this account is not active", code="account_inactive")
    return user


def _end_other_sessions_txn(
    *, session: Session, user_id: str, keep_token: str | None, now: datetime
) -> int:
    keep = staff.token_digest(keep_token) if keep_token else None
    return store.end_user_sessions(session=session, user_id=user_id, now=now, keep=keep)


def _code_ok(node_secrets: NodeSecrets, user: StaffUser, code: str, now: datetime) -> bool:
    if user.totp_secret is None:
        return False
    secret = staff.unseal_totp(node_secrets, user.id, user.totp_secret)
    return bool(pyotp.TOTP(secret).verify(code.strip(), for_time=now, valid_window=1))


def change_own_password(
    db: Database,
    *,
    user_id: str,
    current: str,
    new: str,
    keep_token: str | None,
    now: datetime,
) -> int:
    """Check the current password, set the new one, end the other sessions (how many)."""
    staff.check_password(new)
    with db.read() as session:
        user = _user_txn(session=session, user_id=user_id)
    if not staff.password_matches(user.password_hash, current):
        raise ValidationFailed(
            "current_password: that is not your password", field="current_password"
        )
    new_hash = staff.hash_password(new)
    with db.transaction() as session:
        store.update_user(session=session, user_id=user_id, now=now, password_hash=new_hash)
        return _end_other_sessions_txn(
            session=session, user_id=user_id, keep_token=keep_token, now=now
        )


def _qr_svg(uri: str) -> str:
    return str(segno.make(uri, error="m").svg_inline(scale=4, dark="#000", light="#fff"))


def start_totp_enrolment(db: Database, *, node_secrets: NodeSecrets, user_id: str) -> TotpEnrolment:
    """A fresh secret for the user to add to an authenticator app; nothing is stored yet."""
    with db.read() as session:
        user = _user_txn(session=session, user_id=user_id)
    secret = pyotp.random_base32()
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=staff.TOTP_ISSUER)
    sealed = staff.seal_totp(node_secrets, user_id, secret)
    pending = base64.urlsafe_b64encode(sealed).decode()
    return TotpEnrolment(secret, uri, pending, _qr_svg(uri))


def pending_enrolment(
    db: Database, *, node_secrets: NodeSecrets, user_id: str, pending: str
) -> TotpEnrolment:
    """The enrolment a confirm form carries (shown again when its code was wrong)."""
    with db.read() as session:
        user = _user_txn(session=session, user_id=user_id)
    secret = _open_pending(node_secrets, user_id, pending)
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=staff.TOTP_ISSUER)
    return TotpEnrolment(secret, uri, pending, _qr_svg(uri))


def _open_pending(node_secrets: NodeSecrets, user_id: str, pending: str) -> str:
    try:
        return staff.unseal_totp(node_secrets, user_id, base64.urlsafe_b64decode(pending))
    except (ValueError, InvalidTag):
        raise ValidationFailed(
            "pending: this enrolment is not valid; start again", field="pending"
        ) from None


def confirm_totp(
    db: Database,
    *,
    node_secrets: NodeSecrets,
    user_id: str,
    pending: str,
    code: str,
    keep_token: str | None,
    now: datetime,
) -> None:
    """Make the pending secret the account's second factor if ``code`` verifies with it."""
    secret = _open_pending(node_secrets, user_id, pending)
    if not pyotp.TOTP(secret).verify(code.strip(), for_time=now, valid_window=1):
        raise ValidationFailed("code: that code does not match; try the next one", field="code")
    with db.transaction() as session:
        _user_txn(session=session, user_id=user_id)
        store.update_user(
            session=session,
            user_id=user_id,
            now=now,
            totp_secret=staff.seal_totp(node_secrets, user_id, secret),
        )
        _end_other_sessions_txn(session=session, user_id=user_id, keep_token=keep_token, now=now)


def may_disable_totp(settings: Settings, role: str) -> bool:
    return not (role == "privacy_officer" and settings.admin_require_totp_for_privacy_officers)


def disable_totp(
    db: Database,
    *,
    node_secrets: NodeSecrets,
    settings: Settings,
    user_id: str,
    code: str,
    keep_token: str | None,
    now: datetime,
) -> None:
    """Remove the account's second factor; needs a valid code from it."""
    with db.transaction() as session:
        user = _user_txn(session=session, user_id=user_id)
        if not may_disable_totp(settings, user.role):
            raise Conflict(
                "this node requires a second factor for privacy officers", code="totp_required"
            )
        if user.totp_secret is None:
            raise Conflict("this account has no second factor", code="no_totp")
        if not _code_ok(node_secrets, user, code, now):
            raise ValidationFailed("code: that code does not match", field="code")
        store.update_user(session=session, user_id=user_id, now=now, totp_secret=None)
        _end_other_sessions_txn(session=session, user_id=user_id, keep_token=keep_token, now=now)


def _not_oneself(actor_id: str, username: str, db: Database) -> None:
    with db.read() as session:
        user = store.user_by_username(session=session, username=username.strip().lower())
    if user is not None and user.id == actor_id:
        raise Conflict(
            "you cannot change your own role or status here; ask another operator",
            code="own_account",
        )


def set_role_by(
    db: Database, *, actor_id: str, username: str, role: str, now: datetime
) -> staff.StaffAccount:
    """An operator changes another user's role (their sessions end at once)."""
    _not_oneself(actor_id, username, db)
    return staff.set_role(db, username=username, role=role, now=now)


def disable_user_by(
    db: Database, *, actor_id: str, username: str, now: datetime
) -> staff.StaffAccount:
    """An operator disables another user (their sessions end at once)."""
    _not_oneself(actor_id, username, db)
    return staff.disable_user(db, username=username, now=now)


def reset_totp_by(
    db: Database, *, node_secrets: NodeSecrets, actor_id: str, username: str, now: datetime
) -> TotpEnrolment:
    """An operator gives another user a new TOTP secret (their sessions end at once);
    the URI and QR code to hand over, shown once."""
    _not_oneself(actor_id, username, db)
    uri = staff.reset_totp(db, node_secrets=node_secrets, username=username, now=now)
    secret = pyotp.parse_uri(uri).secret
    return TotpEnrolment(secret, uri, "", _qr_svg(uri))
