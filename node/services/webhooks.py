"""Webhook endpoints: where program events go, and the secrets that sign them.

An operator registers a URL and the event types it wants
(node.program.config.EVENT_TYPES). The node answers with a signing secret in
the Standard Webhooks form ``whsec_<base64 of 32 random bytes>``, shown in
that answer only. The database holds it sealed with the node's wrapping key
(AES-256-GCM, ``webhook-secret:<endpoint id>`` as associated data, so a
sealed secret cannot be moved to another endpoint), never in plain form.

The stored idempotent answer of a write that reveals a secret (create,
rotate) holds the secret sealed too (``webhook-answer:<endpoint id>``); the
service unseals it for the HTTP answer, so a retry with the same
Idempotency-Key gets the same secret back, and the database never holds it
readable.

Rotating a secret keeps the previous one for :data:`ROTATION_OVERLAP`:
during that time every delivery carries two signatures (Standard Webhooks
allows several), so a receiver can switch to the new secret without dropping
a single event. Disabling an endpoint cancels its pending deliveries.

Delivery itself (fan-out, signing, retries) is node.services.webhook_delivery.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import secrets as random_bytes
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlmodel import Session

from node.clock import isoformat
from node.db import Database
from node.errors import Conflict, KonsortError, NotFound, RequestError, ValidationFailed
from node.ids import new_id
from node.program.config import EVENT_TYPES
from node.secrets import NodeSecrets
from node.services.idempotency import Answer, idempotent_unit, run_idempotent_async
from node.store import webhooks as store

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
ROTATION_OVERLAP = timedelta(hours=24)
MAX_URL_LENGTH = 500
NONCE_BYTES = 12
DELIVERY_STATUSES = (store.PENDING, store.DELIVERED, store.FAILED, store.CANCELLED)
_DELIVERY_ID = re.compile(r"^dlv_([1-9][0-9]{0,17})$")


# -- signing secrets ----------------------------------------------------------


@dataclass(frozen=True)
class SigningSecrets:
    """An endpoint's secret, and the one before it while a rotation overlaps."""

    current: bytes
    previous: bytes | None = None
    previous_until: datetime | None = None

    def active(self, now: datetime) -> list[bytes]:
        """The keys to sign with at ``now``: the current one, then the previous one."""
        keys = [self.current]
        if self.previous is not None and self.previous_until and now < self.previous_until:
            keys.append(self.previous)
        return keys


def new_secret() -> bytes:
    return random_bytes.token_bytes(SECRET_BYTES)


def format_secret(key: bytes) -> str:
    """The secret as a receiver stores it: ``whsec_`` and the key in base64."""
    return SECRET_PREFIX + base64.b64encode(key).decode()


def parse_secret(text: str) -> bytes:
    try:
        return base64.b64decode(text.removeprefix(SECRET_PREFIX), validate=True)
    except (ValueError, binascii.Error):
        raise ValueError("not a whsec_ secret") from None


def _encrypt(key: bytes, plaintext: bytes, aad: str) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad.encode())


def _decrypt(key: bytes, sealed: bytes, aad: str) -> bytes:
    try:
        return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad.encode())
    except InvalidTag:
        raise KonsortError("a webhook secret does not open with this node's key") from None


def seal_secrets(node_secrets: NodeSecrets, endpoint_id: str, value: SigningSecrets) -> bytes:
    document = {
        "current": base64.b64encode(value.current).decode(),
        "previous": base64.b64encode(value.previous).decode() if value.previous else None,
        "previous_until": isoformat(value.previous_until) if value.previous_until else None,
    }
    plaintext = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    return _encrypt(node_secrets.wrapping_key, plaintext, f"webhook-secret:{endpoint_id}")


def unseal_secrets(node_secrets: NodeSecrets, endpoint_id: str, sealed: bytes) -> SigningSecrets:
    document = json.loads(
        _decrypt(node_secrets.wrapping_key, sealed, f"webhook-secret:{endpoint_id}")
    )
    previous, until = document.get("previous"), document.get("previous_until")
    return SigningSecrets(
        current=base64.b64decode(document["current"]),
        previous=base64.b64decode(previous) if previous else None,
        previous_until=datetime.fromisoformat(until) if until else None,
    )


def _seal_for_answer(node_secrets: NodeSecrets, endpoint_id: str, key: bytes) -> str:
    sealed = _encrypt(node_secrets.wrapping_key, key, f"webhook-answer:{endpoint_id}")
    return base64.b64encode(sealed).decode()


def _reveal(node_secrets: NodeSecrets, answer: Answer) -> Answer:
    """The answer with its sealed secret replaced by the plain ``whsec_`` secret."""
    sealed = base64.b64decode(answer.body["sealed_secret"])
    key = _decrypt(node_secrets.wrapping_key, sealed, f"webhook-answer:{answer.body['id']}")
    body = {
        ("secret" if name == "sealed_secret" else name): (
            format_secret(key) if name == "sealed_secret" else value
        )
        for name, value in answer.body.items()
    }
    return Answer(answer.status_code, body, answer.replayed)


# -- validation ---------------------------------------------------------------


def check_url(url: str) -> str:
    """An absolute http(s) URL with a host, at most 500 characters, no spaces."""
    if len(url) > MAX_URL_LENGTH:
        raise ValidationFailed(f"url: at most {MAX_URL_LENGTH} characters", field="url")
    if not url.isascii() or any(ch.isspace() or not ch.isprintable() for ch in url):
        raise ValidationFailed(
            "url: spaces, control characters and non-ASCII letters must be percent-encoded",
            field="url",
        )
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ValidationFailed("url: not a valid URL", field="url") from None
    if parts.scheme not in ("http", "https"):
        raise ValidationFailed("url: must start with https:// or http://", field="url")
    if not host:
        raise ValidationFailed("url: needs a host name", field="url")
    if parts.fragment:
        raise ValidationFailed("url: must not have a #fragment", field="url")
    return url


def check_events(events: list[str]) -> list[str]:
    if not events:
        raise ValidationFailed("events: name at least one event type", field="events")
    for index, name in enumerate(events):
        if name not in EVENT_TYPES:
            raise ValidationFailed(
                f"events.{index}: unknown event type; use one of {', '.join(EVENT_TYPES)}",
                field=f"events.{index}",
            )
        if name in events[:index]:
            raise ValidationFailed(f"events.{index}: named twice", field=f"events.{index}")
    return events


# -- endpoints ----------------------------------------------------------------


def _endpoint_json(row: store.EndpointRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "url": row.url,
        "events": json.loads(row.events),
        "enabled": row.enabled,
        "created_at": isoformat(row.created_at),
    }


def _require_endpoint_txn(*, session: Session, endpoint_id: str) -> store.EndpointRow:
    found = store.lock_endpoint(session=session, endpoint_id=endpoint_id)
    if found is None:
        raise NotFound("no such webhook", field="id")
    return found


async def add_endpoint(
    db: Database,
    node_secrets: NodeSecrets,
    *,
    url: str,
    events: list[str],
    idempotency_key: str,
    now: datetime,
) -> Answer:
    """Register an endpoint; the 201 answer carries its signing secret (only there)."""
    url, events = check_url(url), check_events(events)

    def work(session: Session) -> Answer:
        endpoint_id = new_id("whk")
        key = new_secret()
        store.insert_endpoint(
            session=session,
            endpoint_id=endpoint_id,
            url=url,
            events=json.dumps(events),
            secret=seal_secrets(node_secrets, endpoint_id, SigningSecrets(key)),
            now=now,
        )
        body = {
            "id": endpoint_id,
            "url": url,
            "events": events,
            "enabled": True,
            "created_at": isoformat(now),
            "sealed_secret": _seal_for_answer(node_secrets, endpoint_id, key),
        }
        return Answer(201, body)

    unit = idempotent_unit(
        key=idempotency_key,
        operation="webhook_create",
        request={"url": url, "events": events},
        now=now,
        work=work,
    )
    return _reveal(node_secrets, await run_idempotent_async(db, unit))


def list_endpoints(db: Database) -> list[dict[str, Any]]:
    """Every endpoint, disabled ones too, oldest first; never a secret."""
    with db.read() as session:
        return [_endpoint_json(row) for row in store.endpoints(session=session)]


async def disable_endpoint(
    db: Database, *, endpoint_id: str, idempotency_key: str, now: datetime
) -> Answer:
    """Stop sending to an endpoint; its pending deliveries are cancelled, not sent."""

    def work(session: Session) -> Answer:
        row = _require_endpoint_txn(session=session, endpoint_id=endpoint_id)
        if row.enabled:
            store.disable_endpoint(session=session, endpoint_id=endpoint_id)
        cancelled = store.cancel_pending(
            session=session, endpoint_id=endpoint_id, reason="endpoint disabled"
        )
        body = {**_endpoint_json(row), "enabled": False, "cancelled_deliveries": cancelled}
        return Answer(200, body)

    unit = idempotent_unit(
        key=idempotency_key,
        operation="webhook_disable",
        request={"endpoint_id": endpoint_id},
        now=now,
        work=work,
    )
    return await run_idempotent_async(db, unit)


async def rotate_secret(
    db: Database,
    node_secrets: NodeSecrets,
    *,
    endpoint_id: str,
    idempotency_key: str,
    now: datetime,
) -> Answer:
    """A new signing secret; the old one still signs too until ``now + ROTATION_OVERLAP``."""

    def work(session: Session) -> Answer:
        row = _require_endpoint_txn(session=session, endpoint_id=endpoint_id)
        if not row.enabled:
            raise Conflict("this webhook is disabled", field="id", code="webhook_disabled")
        old = unseal_secrets(node_secrets, endpoint_id, row.secret)
        key = new_secret()
        until = now + ROTATION_OVERLAP
        store.set_secret(
            session=session,
            endpoint_id=endpoint_id,
            secret=seal_secrets(node_secrets, endpoint_id, SigningSecrets(key, old.current, until)),
        )
        body = {
            "id": endpoint_id,
            "sealed_secret": _seal_for_answer(node_secrets, endpoint_id, key),
            "previous_secret_valid_until": isoformat(until),
        }
        return Answer(200, body)

    unit = idempotent_unit(
        key=idempotency_key,
        operation="webhook_rotate",
        request={"endpoint_id": endpoint_id},
        now=now,
        work=work,
    )
    return _reveal(node_secrets, await run_idempotent_async(db, unit))


# -- deliveries ---------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryPage:
    items: list[dict[str, Any]]
    next_cursor: str | None


def delivery_public_id(delivery_id: int) -> str:
    return f"dlv_{delivery_id}"


def _delivery_id(public_id: str) -> int:
    match = _DELIVERY_ID.match(public_id)
    if match is None:
        raise NotFound("no such delivery", field="id")
    return int(match.group(1))


def _delivery_json(row: store.DeliveryRow) -> dict[str, Any]:
    return {
        "id": delivery_public_id(row.id),
        "event_id": row.event_public_id,
        "event_type": row.event_type,
        "event_created_at": isoformat(row.event_created_at),
        "endpoint_id": row.endpoint_id,
        "status": row.status,
        "attempts": row.attempts,
        "next_attempt_at": isoformat(row.next_attempt_at) if row.status == store.PENDING else None,
        "last_error": row.last_error,
        "delivered_at": isoformat(row.delivered_at) if row.delivered_at else None,
    }


def _encode_cursor(row_id: int) -> str:
    return base64.urlsafe_b64encode(f"before:{row_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = text.partition(":")
        if kind != "before":
            raise ValueError
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise RequestError("the cursor is not one this API returned", field="cursor") from None


def list_deliveries(
    db: Database,
    *,
    status: str | None,
    endpoint_id: str | None,
    limit: int,
    cursor: str | None,
) -> DeliveryPage:
    """A page of deliveries, newest first."""
    if status is not None and status not in DELIVERY_STATUSES:
        raise ValidationFailed(f"status: use one of {', '.join(DELIVERY_STATUSES)}", field="status")
    before = _decode_cursor(cursor) if cursor else None
    with db.read() as session:
        rows = store.deliveries(
            session=session,
            status=status,
            endpoint_id=endpoint_id,
            before_id=before,
            limit=limit + 1,
        )
    more = len(rows) > limit
    rows = rows[:limit]
    return DeliveryPage(
        [_delivery_json(row) for row in rows], _encode_cursor(rows[-1].id) if more else None
    )


async def retry_delivery(
    db: Database, *, delivery_id: str, idempotency_key: str, now: datetime
) -> Answer:
    """Send a failed delivery again: back to pending, due now, with fresh attempts."""
    internal_id = _delivery_id(delivery_id)

    def work(session: Session) -> Answer:
        found = store.delivery(session=session, delivery_id=internal_id)
        if found is None:
            raise NotFound("no such delivery", field="id")
        endpoint = _require_endpoint_txn(session=session, endpoint_id=found.endpoint_id)
        if not endpoint.enabled:
            raise Conflict("this delivery's webhook is disabled", code="webhook_disabled")
        if not store.requeue_failed(session=session, delivery_id=internal_id, now=now):
            raise Conflict(
                f"only a failed delivery can be retried; this one is {found.status}",
                code="delivery_not_failed",
            )
        requeued = store.delivery(session=session, delivery_id=internal_id)
        assert requeued is not None
        return Answer(200, _delivery_json(requeued))

    unit = idempotent_unit(
        key=idempotency_key,
        operation="webhook_retry",
        request={"delivery_id": delivery_id},
        now=now,
        work=work,
    )
    return await run_idempotent_async(db, unit)
