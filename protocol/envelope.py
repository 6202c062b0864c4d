"""The envelope: signing and verifying messages as Ed25519 compact JWS.

A message is ``BASE64URL(header) "." BASE64URL(payload) "." BASE64URL(signature)``
(RFC 7515 compact serialisation), where

* header  = canonical JSON ``{"alg":"Ed25519","kid":<kid>,"typ":"konsort+jwt"}``
  and nothing else;
* payload = canonical JSON of exactly the claims ``aud body exp iat iss jti typ v``;
* signature = Ed25519 over the ASCII bytes ``header_b64 "." payload_b64``.

Signers write canonical JSON (:mod:`protocol.encoding`); verifiers refuse
duplicate names and non-integer numbers but not other deviations from it.

:func:`verify_message` runs its checks in one fixed order (docs/protocol.md,
"Verification") and raises the first failing check's error. The header's
``alg`` is compared with the one allowed value right after the header is
decoded, before any key is looked up; the algorithm object used to verify is
fixed here and never chosen from the token. Replay detection needs storage, so
it is left to the node: :attr:`Message.replay_key` is what it must remember.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from protocol.encoding import canonical_json
from protocol.errors import (
    Expired,
    InvalidBody,
    KeyNotValid,
    KeyRevoked,
    MalformedToken,
    MemberSuspended,
    NotYetValid,
    UnknownIssuer,
    UnknownKey,
    UnknownMessageType,
    WrongAudience,
)
from protocol.jws import (
    MESSAGE_JWT_TYPE,
    PROTOCOL_VERSION,
    check_signature,
    sign_payload,
    split_token,
)
from protocol.keys import NODE_ID_PATTERN, SigningKey, kid_node
from protocol.manifest import Manifest
from protocol.messages import MAX_SAFE_INT, MESSAGE_TYPES, Body, body_claim

MAX_CLOCK_SKEW = 60
"""Seconds an ``iat`` may lie ahead of the receiver's clock."""
MAX_MESSAGE_LIFETIME = 7 * 86_400
"""Largest ``exp - iat`` in seconds."""

CLAIM_NAMES = frozenset({"aud", "body", "exp", "iat", "iss", "jti", "typ", "v"})
_MESSAGE_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
_NODE_ID = re.compile(NODE_ID_PATTERN)


@dataclass(frozen=True, slots=True)
class Message:
    """A verified (or freshly signed) message: its claims and typed body."""

    kid: str
    message_id: str
    issuer: str
    audience: str
    issued_at: int
    expires_at: int
    message_type: str
    body: Body
    version: int = PROTOCOL_VERSION

    @property
    def replay_key(self) -> tuple[str, str]:
        """``(iss, jti)``: a receiver acts on each key once and stores its answer."""
        return (self.issuer, self.message_id)

    def claims(self) -> dict[str, Any]:
        """The JWT claims exactly as they are signed."""
        return {
            "aud": self.audience,
            "body": body_claim(self.body),
            "exp": self.expires_at,
            "iat": self.issued_at,
            "iss": self.issuer,
            "jti": self.message_id,
            "typ": self.message_type,
            "v": self.version,
        }


# -- signing --------------------------------------------------------------------


def sign_message(
    body: Body,
    *,
    signer: SigningKey,
    audience: str,
    message_id: str,
    issued_at: int,
    expires_at: int,
) -> str:
    """Sign ``body`` from ``signer``'s node to ``audience`` as one compact JWS.

    ``message_id`` must be unique among the issuer's messages (a ULID or 128
    random bits in base64url); the time arguments are Unix seconds.
    """
    if type(body) not in MESSAGE_TYPES.values():
        raise TypeError(f"{type(body).__name__} is not a message body")
    if _MESSAGE_ID.fullmatch(message_id) is None:
        raise ValueError(f"invalid message id {message_id!r}")
    if _NODE_ID.fullmatch(audience) is None or audience == signer.node_id:
        raise ValueError(f"invalid audience {audience!r}")
    if not 0 <= issued_at < expires_at <= MAX_SAFE_INT:
        raise ValueError("need 0 <= issued_at < expires_at")
    if expires_at - issued_at > MAX_MESSAGE_LIFETIME:
        raise ValueError(f"lifetime above {MAX_MESSAGE_LIFETIME} seconds")
    body.check_envelope(issuer=signer.node_id, audience=audience)
    message = Message(
        kid=signer.kid,
        message_id=message_id,
        issuer=signer.node_id,
        audience=audience,
        issued_at=issued_at,
        expires_at=expires_at,
        message_type=body.message_type,
        body=body,
    )
    return sign_payload(canonical_json(message.claims()), signer=signer, jwt_type=MESSAGE_JWT_TYPE)


# -- verification ---------------------------------------------------------------


def _is_timestamp(value: object) -> bool:
    return type(value) is int and 0 <= value <= MAX_SAFE_INT


def _check_claims(claims: dict[str, Any]) -> None:
    if claims.keys() != CLAIM_NAMES:
        raise MalformedToken(f"claims must be exactly {sorted(CLAIM_NAMES)}")
    jti, iss, aud = claims["jti"], claims["iss"], claims["aud"]
    if not isinstance(jti, str) or _MESSAGE_ID.fullmatch(jti) is None:
        raise MalformedToken("invalid jti")
    for name, value in (("iss", iss), ("aud", aud)):
        if not isinstance(value, str) or _NODE_ID.fullmatch(value) is None:
            raise MalformedToken(f"invalid {name}")
    if iss == aud:
        raise MalformedToken("a node does not send messages to itself")
    iat, exp = claims["iat"], claims["exp"]
    if not (_is_timestamp(iat) and _is_timestamp(exp) and iat < exp):
        raise MalformedToken("iat and exp must be integers with iat < exp")
    if exp - iat > MAX_MESSAGE_LIFETIME:
        raise MalformedToken(f"exp - iat above {MAX_MESSAGE_LIFETIME} seconds")
    if not isinstance(claims["typ"], str):
        raise MalformedToken("invalid typ")
    if not isinstance(claims["body"], dict):
        raise MalformedToken("body is not a JSON object")


def verify_message(token: str | bytes, *, manifest: Manifest, receiver: str, now: int) -> Message:
    """Verify ``token`` for node ``receiver`` at Unix time ``now``.

    Returns the typed :class:`Message` or raises a
    :class:`~protocol.errors.VerificationError`; see docs/protocol.md for the
    order of the checks. :class:`~protocol.errors.Expired` carries the
    authenticated message, so a first delivery after ``exp`` can be answered
    with a signed rejection.
    """
    compact = split_token(token, jwt_type=MESSAGE_JWT_TYPE)
    kid = compact.kid
    node = kid_node(kid)
    member = manifest.member(node)
    if member is None:
        raise UnknownIssuer(f"{node!r} is not a member of the consortium")
    entry = manifest.key(kid)
    if entry is None:
        raise UnknownKey(f"{kid!r} is not a key of {node!r}")
    claims = check_signature(compact, entry.public_key)
    _check_claims(claims)
    iat, exp, issuer = claims["iat"], claims["exp"], claims["iss"]
    if issuer != node:
        raise UnknownKey(f"{kid!r} is not a key of issuer {issuer!r}")
    key = entry.key
    if key.revoked_at is not None and key.revoked_at <= now:
        raise KeyRevoked(f"{kid!r} was revoked at {key.revoked_at}")
    if not key.valid_at(iat):
        raise KeyNotValid(f"{kid!r} is not valid at iat {iat}")
    if member.status != "active":
        raise MemberSuspended(f"{issuer!r} is suspended")
    if claims["aud"] != receiver:
        raise WrongAudience(f"addressed to {claims['aud']!r}, not {receiver!r}")
    body_type = MESSAGE_TYPES.get(claims["typ"])
    if body_type is None:
        raise UnknownMessageType(f"unknown message type {claims['typ'][:64]!r}")
    try:
        body = body_type.model_validate(claims["body"])
        body.check_envelope(issuer=issuer, audience=receiver)
    except (ValidationError, ValueError) as exc:
        raise InvalidBody(f"{claims['typ']} body: {_first_error(exc)}") from None
    message = Message(
        kid=kid,
        message_id=claims["jti"],
        issuer=issuer,
        audience=receiver,
        issued_at=iat,
        expires_at=exp,
        message_type=claims["typ"],
        body=body,
    )
    if iat > now + MAX_CLOCK_SKEW:
        raise NotYetValid(f"iat {iat} is more than {MAX_CLOCK_SKEW}s after {now}")
    if now >= exp:
        raise Expired(f"expired at {exp}, now {now}", verified=message)
    return message


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        error = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in error["loc"]) or "body"
        return f"{where}: {error['msg']}"
    return str(exc)
