"""Staff accounts and sign-in for the admin UI; one-time links into the member portal.

Passwords are argon2id hashes (argon2-cffi), rehashed on sign-in when the
parameters change. A TOTP second factor (RFC 6238, pyotp) is optional per
account; its secret is sealed with AES-GCM under a key derived from the
node's master key. ``admin_require_totp_for_privacy_officers`` refuses
privacy officers without one.

Sessions: the browser holds a random 256-bit token; the database holds only
its SHA-256 digest (``staff_session.id``). A session ends at sign-out, after
``admin_session_idle_minutes`` without a request, ``admin_session_absolute_hours``
after sign-in, and at once for every session of a user whose password, role
or status changes (all in the same transaction as the change).

Throttling: each failed sign-in is a ``login_attempt`` row. With
``admin_login_max_attempts`` failures for a username in the last 15 minutes,
or four times as many from one client address, sign-in is refused before the
password is checked (:class:`TooManyAttempts` says for how long). Rows older
than the window are pruned on each failure; a success clears the username's.

Portal links: the operator API mints a one-time token for a customer the shop
has authenticated; :func:`redeem_portal_link` marks it used in one UPDATE (a
second use, or one after ``portal_link_ttl_seconds``, is refused) and opens a
portal session of ``portal_session_minutes``. Only digests are stored.

Nothing here logs or stores a customer's personal data; staff ids are opaque.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import argon2
import pyotp
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlmodel import Session

from node.db import Database
from node.errors import Conflict, KonsortError, NotFound, Unauthenticated, ValidationFailed
from node.ids import new_id
from node.secrets import NodeSecrets
from node.services.customers import require_active_txn
from node.settings import Settings
from node.store import staff as store
from node.store.staff_models import ROLES, PortalLink, PortalSession, StaffSession, StaffUser

THROTTLE_WINDOW = timedelta(minutes=15)
#: A client address may fail this many times the per-account limit.
ADDRESS_FACTOR = 4
MIN_PASSWORD_LENGTH = 12
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
TOTP_ISSUER = "Konsort"
_HASHER = argon2.PasswordHasher()
#: Verified against when the username is unknown, so timing does not tell.
_DUMMY_HASH = _HASHER.hash("konsort-no-such-user")


class TooManyAttempts(KonsortError):
    """Sign-in is throttled for the account or the client address."""

    code = "too_many_attempts"
    http_status = 429

    def __init__(self, message: str, *, retry_after_minutes: int) -> None:
        super().__init__(message)
        self.retry_after_minutes = retry_after_minutes


class SignInRefused(Unauthenticated):
    """Wrong username, password or code; or an account that may not sign in."""

    code = "sign_in_refused"


@dataclass(frozen=True)
class StaffAccount:
    id: str
    username: str
    display_name: str
    role: str
    status: str
    has_totp: bool


@dataclass(frozen=True)
class NewStaffUser:
    account: StaffAccount
    #: otpauth:// provisioning URI, shown once; None without a second factor.
    totp_uri: str | None


@dataclass(frozen=True)
class SignedIn:
    #: The cookie's secret; only its digest is stored.
    token: str
    account: StaffAccount


@dataclass(frozen=True)
class PortalLinkToken:
    token: str
    expires_at: datetime


@dataclass(frozen=True)
class PortalSignedIn:
    token: str
    customer_id: str
    expires_at: datetime


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _account(user: StaffUser) -> StaffAccount:
    return StaffAccount(
        user.id,
        user.username,
        user.display_name,
        user.role,
        user.status,
        user.totp_secret is not None,
    )


def _totp_key(node_secrets: NodeSecrets) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"konsort/staff-totp").derive(
        node_secrets.master_key
    )


def seal_totp(node_secrets: NodeSecrets, user_id: str, secret: str) -> bytes:
    nonce = secrets.token_bytes(12)
    return nonce + AESGCM(_totp_key(node_secrets)).encrypt(nonce, secret.encode(), user_id.encode())


def unseal_totp(node_secrets: NodeSecrets, user_id: str, sealed: bytes) -> str:
    return (
        AESGCM(_totp_key(node_secrets)).decrypt(sealed[:12], sealed[12:], user_id.encode()).decode()
    )


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    try:
        return bool(_HASHER.verify(password_hash, password))
    except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
        return False


def check_role(role: str) -> str:
    if role not in ROLES:
        raise ValidationFailed(f"role: one of {', '.join(ROLES)}", field="role")
    return role


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            f"password: at least {MIN_PASSWORD_LENGTH} characters", field="password"
        )
    if len(password) > 1024:
        raise ValidationFailed("password: at most 1024 characters", field="password")
    return password


def _check_username(username: str) -> str:
    username = username.strip().lower()
    if not USERNAME.match(username):
        raise ValidationFailed(
            "username: 2-64 of a-z, 0-9, '.', '_', '-', starting with a letter or digit",
            field="username",
        )
    return username


def _user_txn(*, session: Session, username: str) -> StaffUser:
    user = store.user_by_username(session=session, username=username.strip().lower())
    if user is None:
        raise NotFound("no staff user with that username", field="username")
    return user


def create_user(
    db: Database,
    *,
    node_secrets: NodeSecrets,
    username: str,
    display_name: str,
    role: str,
    password: str,
    totp: bool,
    now: datetime,
) -> NewStaffUser:
    """A new active staff account; with ``totp`` also its provisioning URI (shown once)."""
    username = _check_username(username)
    check_role(role)
    check_password(password)
    display_name = display_name.strip() or username
    if len(display_name) > 120:
        raise ValidationFailed("display_name: at most 120 characters", field="display_name")
    user_id = new_id("stf")
    totp_secret = pyotp.random_base32() if totp else None
    user = StaffUser(
        id=user_id,
        username=username,
        display_name=display_name,
        role=role,
        password_hash=_HASHER.hash(password),
        totp_secret=seal_totp(node_secrets, user_id, totp_secret) if totp_secret else None,
        status="active",
        created_at=now,
        changed_at=now,
    )
    with db.transaction() as session:
        if store.user_by_username(session=session, username=username) is not None:
            raise Conflict("a staff user with that username exists", field="username")
        store.insert_user(session=session, user=user)
    uri = (
        pyotp.TOTP(totp_secret).provisioning_uri(name=username, issuer_name=TOTP_ISSUER)
        if totp_secret
        else None
    )
    return NewStaffUser(_account(user), uri)


def list_users(db: Database) -> list[StaffAccount]:
    with db.read() as session:
        return [_account(user) for user in store.all_users(session=session)]


def get_user(db: Database, *, user_id: str) -> StaffAccount:
    with db.read() as session:
        user = store.user_by_id(session=session, user_id=user_id)
        if user is None:
            raise NotFound("no such staff user")
        return _account(user)


def set_role(db: Database, *, username: str, role: str, now: datetime) -> StaffAccount:
    """Change a user's role and end their sessions (they sign in again with the new role)."""
    check_role(role)
    with db.transaction() as session:
        user = _user_txn(session=session, username=username)
        store.update_user(session=session, user_id=user.id, now=now, role=role)
        store.end_user_sessions(session=session, user_id=user.id, now=now)
        session.refresh(user)
        return _account(user)


def disable_user(db: Database, *, username: str, now: datetime) -> StaffAccount:
    """Disable an account and end its sessions at once."""
    with db.transaction() as session:
        user = _user_txn(session=session, username=username)
        store.update_user(session=session, user_id=user.id, now=now, status="disabled")
        store.end_user_sessions(session=session, user_id=user.id, now=now)
        session.refresh(user)
        return _account(user)


def change_password(db: Database, *, username: str, password: str, now: datetime) -> None:
    """Set a new password and end every session of the user."""
    check_password(password)
    with db.transaction() as session:
        user = _user_txn(session=session, username=username)
        store.update_user(
            session=session, user_id=user.id, now=now, password_hash=_HASHER.hash(password)
        )
        store.end_user_sessions(session=session, user_id=user.id, now=now)


def reset_totp(db: Database, *, node_secrets: NodeSecrets, username: str, now: datetime) -> str:
    """Give a user a new TOTP secret (ending their sessions); its provisioning URI."""
    secret = pyotp.random_base32()
    with db.transaction() as session:
        user = _user_txn(session=session, username=username)
        store.update_user(
            session=session,
            user_id=user.id,
            now=now,
            totp_secret=seal_totp(node_secrets, user.id, secret),
        )
        store.end_user_sessions(session=session, user_id=user.id, now=now)
        name = user.username
    return pyotp.TOTP(secret).provisioning_uri(name=name, issuer_name=TOTP_ISSUER)


def _throttle_txn(
    *, session: Session, username: str, address: str, limit: int, now: datetime
) -> None:
    since = now - THROTTLE_WINDOW
    for key, allowed in (
        ({"username": username}, limit),
        ({"address": address}, limit * ADDRESS_FACTOR),
    ):
        if store.attempts_since(session=session, since=since, **key) >= allowed:
            oldest = store.oldest_attempt_since(session=session, since=since, **key) or now
            wait = (oldest + THROTTLE_WINDOW - now).total_seconds()
            minutes = max(1, math.ceil(wait / 60))
            raise TooManyAttempts(
                f"too many failed sign-ins; try again in {minutes} minutes",
                retry_after_minutes=minutes,
            )


def _credentials_ok(
    user: StaffUser | None,
    *,
    node_secrets: NodeSecrets,
    password: str,
    totp_code: str,
    now: datetime,
) -> bool:
    try:
        _HASHER.verify(user.password_hash if user else _DUMMY_HASH, password)
    except argon2.exceptions.VerificationError:
        return False
    except argon2.exceptions.InvalidHashError:
        return False
    if user is None or user.status != "active":
        return False
    if user.totp_secret is not None:
        secret = unseal_totp(node_secrets, user.id, user.totp_secret)
        if not pyotp.TOTP(secret).verify(totp_code.strip(), for_time=now, valid_window=1):
            return False
    return True


def sign_in(
    db: Database,
    *,
    node_secrets: NodeSecrets,
    settings: Settings,
    username: str,
    password: str,
    totp_code: str,
    address: str,
    now: datetime,
) -> SignedIn:
    """Check the credentials (throttled) and open a session; SignInRefused or TooManyAttempts."""
    username = username.strip().lower()[:64]
    address = address[:64]
    with db.transaction() as session:
        _throttle_txn(
            session=session,
            username=username,
            address=address,
            limit=settings.admin_login_max_attempts,
            now=now,
        )
        user = store.user_by_username(session=session, username=username)
        if not _credentials_ok(
            user, node_secrets=node_secrets, password=password, totp_code=totp_code, now=now
        ):
            store.prune_attempts(session=session, before=now - THROTTLE_WINDOW)
            store.insert_attempt(session=session, username=username, address=address, at=now)
            failed = True
        else:
            failed = False
    if failed or user is None:
        raise SignInRefused("wrong username, password or code")
    if (
        user.role == "privacy_officer"
        and settings.admin_require_totp_for_privacy_officers
        and user.totp_secret is None
    ):
        raise SignInRefused(
            "this account needs a second factor; ask an operator to set one up",
            code="totp_required",
        )
    token = secrets.token_urlsafe(32)
    with db.transaction() as session:
        store.clear_attempts(session=session, username=username)
        if _HASHER.check_needs_rehash(user.password_hash):
            store.update_user(
                session=session,
                user_id=user.id,
                now=now,
                password_hash=_HASHER.hash(password),
            )
        store.insert_session(
            session=session,
            row=StaffSession(
                id=token_digest(token),
                user_id=user.id,
                created_at=now,
                last_seen_at=now,
                expires_at=now + timedelta(hours=settings.admin_session_absolute_hours),
            ),
        )
    return SignedIn(token, _account(user))


def session_account(
    db: Database, *, token: str, settings: Settings, now: datetime
) -> StaffAccount | None:
    """The signed-in staff account of a live session (and mark it seen), or None."""
    digest = token_digest(token)
    idle = timedelta(minutes=settings.admin_session_idle_minutes)
    with db.transaction() as session:
        row = store.session_by_digest(session=session, digest=digest)
        if row is None or row.ended_at is not None:
            return None
        if now >= row.expires_at or now - row.last_seen_at >= idle:
            store.end_session(session=session, digest=digest, now=now)
            return None
        user = store.user_by_id(session=session, user_id=row.user_id)
        if user is None or user.status != "active":
            return None
        if now - row.last_seen_at >= timedelta(seconds=30):  # fewer writes per page
            store.touch_session(session=session, digest=digest, now=now)
        return _account(user)


def end_session(db: Database, *, token: str, now: datetime) -> None:
    with db.transaction() as session:
        store.end_session(session=session, digest=token_digest(token), now=now)


def mint_portal_link_txn(
    *, session: Session, customer_id: str, ttl_seconds: int, now: datetime
) -> PortalLinkToken:
    token = secrets.token_urlsafe(32)
    expires_at = now + timedelta(seconds=ttl_seconds)
    store.prune_portal_links(session=session, before=now - timedelta(days=1))
    store.insert_portal_link(
        session=session,
        link=PortalLink(
            id=token_digest(token), customer_id=customer_id, created_at=now, expires_at=expires_at
        ),
    )
    return PortalLinkToken(token, expires_at)


def mint_portal_link(
    db: Database, *, customer_id: str, ttl_seconds: int, now: datetime
) -> PortalLinkToken:
    """A one-time portal sign-in token for an enrolled, active customer."""
    with db.transaction() as session:
        require_active_txn(session=session, customer_id=customer_id)
        return mint_portal_link_txn(
            session=session, customer_id=customer_id, ttl_seconds=ttl_seconds, now=now
        )


def redeem_portal_link(
    db: Database, *, token: str, session_minutes: int, now: datetime
) -> PortalSignedIn:
    """Use a one-time link once, opening a portal session; SignInRefused otherwise."""
    session_token = secrets.token_urlsafe(32)
    expires_at = now + timedelta(minutes=session_minutes)
    with db.transaction() as session:
        customer_id = store.use_portal_link(session=session, digest=token_digest(token), now=now)
        if customer_id is None:
            raise SignInRefused(
                "this sign-in link has expired or was already used", code="link_used"
            )
        store.insert_portal_session(
            session=session,
            row=PortalSession(
                id=token_digest(session_token),
                customer_id=customer_id,
                created_at=now,
                expires_at=expires_at,
            ),
        )
    return PortalSignedIn(session_token, customer_id, expires_at)


def portal_customer(db: Database, *, token: str, now: datetime) -> str | None:
    """The customer id of a live portal session, or None."""
    with db.read() as session:
        row = store.portal_session_by_digest(session=session, digest=token_digest(token))
        if row is None or row.ended_at is not None or now >= row.expires_at:
            return None
        return row.customer_id


def end_portal_session(db: Database, *, token: str, now: datetime) -> None:
    with db.transaction() as session:
        store.end_portal_session(session=session, digest=token_digest(token), now=now)
