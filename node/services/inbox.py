"""Receiving protocol requests: verify at the edge, decide once, answer always.

``receive_message`` runs for every ``POST /federation/v1/messages``:

1. Verify the token against the manifest in force (signature, membership,
   key validity, audience, time window, body schema) before anything else.
   Any failure is a :class:`FederationRefused` with the protocol's error code,
   and nothing is written.
2. In one transaction: if ``(iss, jti)`` was seen, return the stored answer
   (signed again under a new ``jti`` if the stored token expired). Otherwise
   decide: a first delivery at or after ``exp`` is rejected as ``expired``;
   else the handler for the message type applies its effect. The decision and
   the signed answer are stored with the effect, so a crash can never leave an
   effect without its answer or the other way round.

Handlers (node.services.federation_handlers) get the verified message and
return the answer body; they raise nothing for business refusals (they
return a rejection with a reason).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from node.db import Database
from node.errors import KonsortError
from node.services.federation import Federation, unix
from node.store import federation as store
from protocol import (
    Answer,
    Expired,
    Manifest,
    Message,
    Request,
    VerificationError,
    canonical_json,
    reject,
    sign_answer,
    verify_message,
)

#: Signed answers stay valid this long; an expired stored answer is re-signed.
ANSWER_TTL = timedelta(days=1)


class FederationRefused(KonsortError):
    """A request refused at the edge; ``code`` is the protocol's error code."""

    http_status = 400


_STATUS = {
    "token_too_large": 413,
    "bad_signature": 401,
    "unknown_issuer": 401,
    "unknown_key": 401,
    "key_revoked": 401,
    "key_not_valid": 401,
    "member_suspended": 403,
    "wrong_audience": 421,
    "not_a_request": 400,
    "rate_limited": 429,
}


def refused(code: str, message: str) -> FederationRefused:
    error = FederationRefused(message, code=code)
    error.http_status = _STATUS.get(code, 400)
    return error


@dataclass(frozen=True)
class InboxContext:
    federation: Federation
    manifest: Manifest
    settings_currency: str
    now: datetime


Handler = Callable[[Session, InboxContext, Message], Answer]


def new_message_id() -> str:
    return secrets.token_urlsafe(16)


def _sign(
    fed: Federation, manifest: Manifest, request: Message, answer: Answer, now: datetime
) -> tuple[str, int]:
    issued = unix(now)
    expires = issued + int(ANSWER_TTL.total_seconds())
    token = sign_answer(
        request,
        answer,
        signer=fed.signer(manifest, now=now),
        message_id=new_message_id(),
        issued_at=issued,
        expires_at=expires,
    )
    return token, expires


def verify_request(
    fed: Federation, manifest: Manifest, token: bytes, *, now: datetime
) -> tuple[Message, bool]:
    """The verified request and whether it arrived after its ``exp``."""
    try:
        message = verify_message(token, manifest=manifest, receiver=fed.node_id, now=unix(now))
        expired = False
    except Expired as exc:
        message, expired = exc.verified, True
    except VerificationError as exc:
        raise refused(exc.code, str(exc)) from None
    if not isinstance(message.body, Request):
        raise refused("not_a_request", f"{message.message_type} is an answer, not a request")
    return message, expired


def receive_message(
    db: Database,
    fed: Federation,
    token: bytes,
    *,
    now: datetime,
    handlers: dict[str, Handler],
    currency: str,
) -> str:
    """The signed answer to ``token`` (a request), deciding it once."""
    manifest = fed.manifest(db)
    message, expired = verify_request(fed, manifest, token, now=now)
    handler = handlers.get(message.message_type)

    def unit(session: Session) -> str:
        issuer, message_id = message.replay_key
        stored = store.stored_answer(session=session, issuer=issuer, message_id=message_id)
        if stored is not None:
            if stored.answer_expires_at > unix(now) + 60:
                return stored.answer_token
            assert isinstance(message.body, Request)
            answer = message.body.answer_type.model_validate_json(stored.answer_body)
            again, expires = _sign(fed, manifest, message, answer, now)
            store.replace_answer_token(
                session=session,
                issuer=issuer,
                message_id=message_id,
                token=again,
                expires_at=expires,
            )
            return again
        if expired:
            answer = reject(message, "expired")
        elif handler is None:
            answer = reject(message, "not_supported")
        else:
            context = InboxContext(fed, manifest, currency, now)
            answer = handler(session, context, message)
        signed, expires = _sign(fed, manifest, message, answer, now)
        store.insert_inbox(
            session=session,
            issuer=issuer,
            message_id=message_id,
            message_type=message.message_type,
            request_iat=message.issued_at,
            outcome=answer.outcome,
            reason=answer.reason,
            answer_body=canonical_json(answer.model_dump(mode="json")).decode(),
            answer_token=signed,
            answer_expires_at=expires,
            now=now,
        )
        return signed

    try:
        return db.write(unit)
    except IntegrityError:
        # The same request delivered twice at once: the other delivery decided it.
        return db.write(unit)
