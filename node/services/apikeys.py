"""Operator API keys: random bearer tokens, stored only as SHA-256 digests.

A key looks like ``ksk_<key id>_<secret>``. The secret carries 256 random bits,
so one fast SHA-256 is safe to store (no slow password hash needed, which
would cap request throughput); the digest is compared in constant time.
The plain key is shown once, at creation.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from node.clock import Clock, isoformat
from node.db import Database
from node.errors import NotFound, Unauthenticated, ValidationFailed
from node.ids import new_id
from node.services.idempotency import Answer, Unit, idempotent_unit
from node.store import apikeys as store
from node.store.models import ApiKey

PREFIX = "ksk_"
MAX_NAME = 100


@dataclass(frozen=True)
class NewApiKey:
    id: str
    name: str
    token: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_key(db: Database, *, name: str, now: datetime) -> NewApiKey:
    key_id = new_id("key")
    token = f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    with db.transaction() as session:
        store.insert_key(session=session, key_id=key_id, name=name, digest=_digest(token), now=now)
    return NewApiKey(key_id, name, token)


def create_api_key_unit(*, name: str, idempotency_key: str, now: datetime) -> tuple[Unit, str]:
    """A unit creating a key once per idempotency key, and the token it creates.

    The token is returned beside the unit, never stored: the stored answer
    (replayed for a repeat) holds the key's id and name only, so a double
    submit creates one key and the secret is shown once.
    """
    name = name.strip()
    if not 1 <= len(name) <= MAX_NAME:
        raise ValidationFailed(f"a key's name is 1-{MAX_NAME} characters", field="name")
    key_id = new_id("key")
    token = f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"

    def work(session: Session) -> Answer:
        store.insert_key(session=session, key_id=key_id, name=name, digest=_digest(token), now=now)
        return Answer(201, {"id": key_id, "name": name, "created_at": isoformat(now)})

    unit = idempotent_unit(
        key=idempotency_key, operation="apikey.create", request={"name": name}, now=now, work=work
    )
    return unit, token


def key_prefix(key_id: str) -> str:
    """What a key's owner can recognise it by once the secret is gone: ``ksk_<id>_``."""
    return f"{PREFIX}{key_id}_"


def authenticate_api_key(db: Database, token: str) -> str:
    """The id of the key behind ``token``; Unauthenticated if unknown or revoked."""
    digest = _digest(token)
    with db.read() as session:
        found = store.active_key_by_digest(session=session, digest=digest)
    if found is None or not hmac.compare_digest(found[1], digest):
        raise Unauthenticated("the API key is unknown or revoked")
    return found[0]


class ApiKeyCache:
    """Remembers verified keys for a few seconds, so a request costs no database read.

    A key revoked in another process (``konsort apikey revoke``) stops working
    within ``ttl_seconds``; ``ttl_seconds=0`` checks the database every time.
    Only digests are held, never the keys themselves.
    """

    def __init__(self, ttl_seconds: int, clock: Clock) -> None:
        self._ttl = timedelta(seconds=ttl_seconds)
        self._clock = clock
        self._verified: dict[str, tuple[str, datetime]] = {}

    def lookup(self, token: str) -> str | None:
        """The key id if ``token`` was verified recently, else None."""
        if not self._ttl:
            return None
        found = self._verified.get(_digest(token))
        if found is None or found[1] <= self._clock.now():
            return None
        return found[0]

    def forget(self, key_id: str) -> None:
        """Drop a revoked key at once (another process drops it within the TTL)."""
        for digest, (found, _) in list(self._verified.items()):
            if found == key_id:
                self._verified.pop(digest, None)

    def authenticate(self, db: Database, token: str) -> str:
        key_id = authenticate_api_key(db, token)
        if self._ttl:
            if len(self._verified) > 10_000:
                self._verified.clear()
            self._verified[_digest(token)] = (key_id, self._clock.now() + self._ttl)
        return key_id


def list_api_keys(db: Database) -> list[ApiKey]:
    with db.read() as session:
        return store.all_keys(session=session)


def revoke_api_key(db: Database, *, key_id: str, now: datetime) -> None:
    with db.transaction() as session:
        if not store.revoke(session=session, key_id=key_id, now=now):
            raise NotFound("no active API key with this id", field="key_id")
