"""Compact JWS (RFC 7515) with Ed25519: the layer under messages and manifests.

``split_token`` and ``check_signature`` are the first checks of every token, in
this order: size, structure, header ``alg`` (only ``Ed25519``), header shape,
base64url of payload and signature, then (after the caller has looked up the
key named by ``kid``) the signature, and only then the payload's JSON: an
object with protocol version ``v``.
The algorithm object that verifies is PyJWT's, fixed at import time; the token
never chooses it.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from protocol.encoding import b64url_decode, parse_json
from protocol.errors import (
    AlgorithmNotAllowed,
    BadSignature,
    MalformedToken,
    TokenTooLarge,
    UnsupportedVersion,
)
from protocol.keys import ALGORITHM, JWS, STEWARD_KID_PATTERN, SigningKey

PROTOCOL_VERSION = 1
MESSAGE_JWT_TYPE = "konsort+jwt"
MANIFEST_JWT_TYPE = "konsort-manifest+jwt"
MAX_TOKEN_BYTES = 65_536
"""Longest token accepted (64 KiB), checked before anything is decoded."""

_HEADER_NAMES = frozenset({"alg", "kid", "typ"})
_KID = re.compile(STEWARD_KID_PATTERN)
_ED25519 = JWS.get_algorithm_by_name(ALGORITHM)
_SIGNATURE_BYTES = 64


def sign_payload(payload: bytes, *, signer: SigningKey, jwt_type: str) -> str:
    """Compact JWS of ``payload`` (already canonical JSON) under ``signer``."""
    token = JWS.encode(
        payload,
        signer.private_key,
        algorithm=ALGORITHM,
        headers={"kid": signer.kid, "typ": jwt_type},
    )
    if len(token) > MAX_TOKEN_BYTES:
        raise ValueError(f"token of {len(token)} bytes exceeds {MAX_TOKEN_BYTES}; split it")
    return token


@dataclass(frozen=True, slots=True)
class CompactToken:
    """A token split and its header checked; nothing else is trusted yet."""

    kid: str
    signing_input: bytes
    payload: bytes
    signature: bytes


@functools.lru_cache(maxsize=512)
def _read_header(segment: str) -> tuple[str, str]:
    """``(kid, typ)`` of a header segment, after the alg and shape checks."""
    try:
        header = parse_json(b64url_decode(segment))
    except ValueError:
        raise MalformedToken("header is not JSON in base64url") from None
    if not isinstance(header, dict):
        raise MalformedToken("header is not a JSON object")
    alg = header.get("alg")
    if alg != ALGORITHM:
        raise AlgorithmNotAllowed(f"alg {str(alg)[:32]!r} is not allowed, only {ALGORITHM!r}")
    if header.keys() != _HEADER_NAMES:
        raise MalformedToken(f"header must have exactly {sorted(_HEADER_NAMES)}")
    kid, typ = header["kid"], header["typ"]
    if not isinstance(kid, str) or _KID.fullmatch(kid) is None:
        raise MalformedToken("invalid kid")
    if not isinstance(typ, str):
        raise MalformedToken("invalid typ")
    return kid, typ


def split_token(token: str | bytes, *, jwt_type: str) -> CompactToken:
    """Size, structure, header (``alg`` first), then the base64url of payload and
    signature; the first checks of every token, before any key is looked up."""
    if not isinstance(token, str | bytes):
        raise MalformedToken("a token is a str or bytes")
    if len(token) > MAX_TOKEN_BYTES:
        raise TokenTooLarge(f"token longer than {MAX_TOKEN_BYTES} bytes")
    if isinstance(token, bytes):
        try:
            token = token.decode("ascii")
        except UnicodeDecodeError:
            raise MalformedToken("token is not ASCII") from None
    elif not token.isascii():
        raise MalformedToken("token is not ASCII")
    segments = token.split(".")
    if len(segments) != 3 or not segments[0] or not segments[1]:
        raise MalformedToken("not three base64url segments")
    header_segment, payload_segment, signature_segment = segments
    kid, typ = _read_header(header_segment)
    if typ != jwt_type:
        raise MalformedToken(f"header typ must be {jwt_type!r}")
    try:
        payload = b64url_decode(payload_segment)
        signature = b64url_decode(signature_segment)
    except ValueError:
        raise MalformedToken("payload or signature is not canonical base64url") from None
    signing_input = f"{header_segment}.{payload_segment}".encode("ascii")
    return CompactToken(kid, signing_input, payload, signature)


def check_signature(compact: CompactToken, public_key: Ed25519PublicKey) -> dict[str, Any]:
    """Verify the signature, then parse the payload: a JSON object with ``v`` 1."""
    if len(compact.signature) != _SIGNATURE_BYTES or not _ED25519.verify(
        compact.signing_input, public_key, compact.signature
    ):
        raise BadSignature("signature does not verify")
    try:
        payload = parse_json(compact.payload)
    except ValueError:
        raise MalformedToken("payload is not JSON") from None
    if not isinstance(payload, dict):
        raise MalformedToken("payload is not a JSON object")
    if "v" not in payload or type(payload["v"]) is not int:
        raise MalformedToken("payload has no integer protocol version v")
    if payload["v"] != PROTOCOL_VERSION:
        raise UnsupportedVersion(f"protocol version {str(payload['v'])[:16]} is not supported")
    return payload
