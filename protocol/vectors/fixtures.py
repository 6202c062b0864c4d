"""The fixed test consortium behind the known-answer vectors.

Fixed Ed25519 seeds (``SHA-256("konsort-vector-seed:" + kid)``), a fixed
manifest, fixed times and ids, and helpers to sign arbitrary (also broken)
tokens with those keys. Used by :mod:`protocol.vectors` and the tests. These
seeds and secrets are public test data: never use them for anything else.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PrivateKey

from protocol.encoding import b64url_decode, b64url_encode, canonical_json
from protocol.envelope import sign_message
from protocol.jws import MAX_TOKEN_BYTES, MESSAGE_JWT_TYPE
from protocol.keys import SigningKey, private_key_from_seed
from protocol.manifest import Manifest, Member, MemberKey
from protocol.messages import Body
from protocol.pseudonym import pairwise_pseudonym

VERIFY_AT = 1_767_225_600  # 2026-01-01T00:00:00Z, the receiver's clock for every vector
ISSUED = VERIFY_AT - 60
EXPIRES = VERIFY_AT + 3600
YEAR_2025 = 1_735_689_600
YEAR_2027 = 1_798_761_600
YEAR_2028 = 1_830_297_600
STEWARD_KID = "steward:2026"
NODE_KIDS = (
    "bikeshop:k1",
    "bookshop:k0",
    "bookshop:k1",
    "cafe:k1",
    "cafe:k2",
    "cafe:k3",
    "charity:k1",
)
OUTSIDE_KIDS = ("cafe:k9", "outsider:k1")
"""Keys with seeds but absent from the manifest."""


def seed(kid: str) -> bytes:
    """The published test seed of ``kid``: SHA-256 of ``"konsort-vector-seed:" + kid``."""
    return hashlib.sha256(b"konsort-vector-seed:" + kid.encode()).digest()


def signer(kid: str) -> SigningKey:
    return SigningKey(kid, private_key_from_seed(seed(kid)))


def pseudonym_secret(node_id: str) -> bytes:
    return hashlib.sha256(b"konsort-vector-pseudonym-secret:" + node_id.encode()).digest()


def subject(customer: str, *, issuer: str, partner: str) -> str:
    """``issuer``'s pseudonym for its customer ``customer`` towards ``partner``."""
    return pairwise_pseudonym(pseudonym_secret(issuer), customer=customer, partner=partner)


def message_id(n: int) -> str:
    return f"01KDVECT{n:018d}"


def _key(kid: str, not_before: int, not_after: int, revoked_at: int | None = None) -> MemberKey:
    return MemberKey(
        jwk=signer(kid).public_jwk(),
        not_before=not_before,
        not_after=not_after,
        revoked_at=revoked_at,
    )


def _member(node_id: str, name: str, kind: str, value: int, keys: list[MemberKey]) -> Member:
    return Member.model_validate(
        {
            "node_id": node_id,
            "display_name": name,
            "kind": kind,
            "endpoint": f"https://{node_id}.example/konsort",
            "point_value": value,
            "status": "suspended" if node_id == "bikeshop" else "active",
            "keys": keys,
        }
    )


def manifest() -> Manifest:
    """The vectors' consortium: cafe rotating k1 -> k2 (k3 pre-published),
    bookshop with a revoked k0, a charity, and a suspended bikeshop."""
    return Manifest(
        consortium="konsort-vectors",
        version=7,
        issued_at=VERIFY_AT - 86_400,
        settlement_currency="EUR",
        minor_unit_exponent=3,
        members=[
            _member(
                "bikeshop", "Bike Shop", "business", 20, [_key("bikeshop:k1", YEAR_2025, YEAR_2027)]
            ),
            _member(
                "bookshop",
                "Bøger & Co",
                "business",
                12,
                [
                    _key("bookshop:k0", YEAR_2025, YEAR_2027, revoked_at=VERIFY_AT - 3600),
                    _key("bookshop:k1", YEAR_2025, YEAR_2027),
                ],
            ),
            _member(
                "cafe",
                "Café Nord",
                "business",
                5,
                [
                    _key("cafe:k1", YEAR_2025, VERIFY_AT - 600),
                    _key("cafe:k2", VERIFY_AT - 86_400, YEAR_2027),
                    _key("cafe:k3", VERIFY_AT + 86_400, YEAR_2028),
                ],
            ),
            _member(
                "charity",
                "Havnens Hjælp",
                "charity",
                10,
                [_key("charity:k1", YEAR_2025, YEAR_2027)],
            ),
        ],
    )


def message(
    body: Body, *, kid: str, aud: str, n: int, iat: int = ISSUED, exp: int = EXPIRES
) -> str:
    return sign_message(
        body,
        signer=signer(kid),
        audience=aud,
        message_id=message_id(n),
        issued_at=iat,
        expires_at=exp,
    )


def raw_token(header: dict[str, Any] | bytes, payload: dict[str, Any] | bytes, kid: str) -> str:
    """A token signed with ``kid``'s seed over arbitrary header and payload bytes."""
    header_bytes = header if isinstance(header, bytes) else canonical_json(header)
    payload_bytes = payload if isinstance(payload, bytes) else canonical_json(payload)
    signing_input = f"{b64url_encode(header_bytes)}.{b64url_encode(payload_bytes)}"
    signature = private_key_from_seed(seed(kid)).sign(signing_input.encode())
    return f"{signing_input}.{b64url_encode(signature)}"


def header(kid: str, alg: str = "Ed25519", typ: str = MESSAGE_JWT_TYPE) -> dict[str, Any]:
    return {"alg": alg, "kid": kid, "typ": typ}


def claims_of(token: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(b64url_decode(token.split(".")[1]))
    return payload


def _signing_input(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{b64url_encode(canonical_json(header))}.{b64url_encode(canonical_json(claims))}"


def ed448_token(claims: dict[str, Any], kid: str) -> str:
    """``alg: EdDSA`` over Ed448 (key from SHAKE-256 of the seed): always refused."""
    signing_input = _signing_input(header(kid, "EdDSA"), claims)
    key = Ed448PrivateKey.from_private_bytes(hashlib.shake_256(seed(kid)).digest(57))
    return f"{signing_input}.{b64url_encode(key.sign(signing_input.encode()))}"


def hmac_token(claims: dict[str, Any], kid: str, secret: bytes) -> str:
    """``alg: HS256`` keyed with public key material: refused whatever the MAC."""
    signing_input = _signing_input(header(kid, "HS256"), claims)
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url_encode(mac)}"


def oversize_token() -> str:
    return "A" * (MAX_TOKEN_BYTES + 1)


def variant(claims: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A copy of ``claims`` with top-level changes; a value of ``...`` drops the claim."""
    changed = {**claims, **changes}
    return {k: v for k, v in changed.items() if v is not ...}


def body_variant(claims: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A copy of ``claims`` with changes to the body; ``...`` drops a field."""
    return variant(claims, body=variant(claims["body"], **changes))
