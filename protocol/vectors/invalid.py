"""Invalid messages (one per refusal reason) and manifest update candidates."""

from __future__ import annotations

from typing import Any

from protocol.encoding import b64url_decode, b64url_encode, canonical_json
from protocol.jws import MANIFEST_JWT_TYPE
from protocol.keys import SigningKey
from protocol.manifest import Manifest, set_member_status, sign_manifest
from protocol.messages import (
    TransferAnswer,
)
from protocol.vectors.fixtures import (
    EXPIRES,
    ISSUED,
    STEWARD_KID,
    VERIFY_AT,
    body_variant,
    claims_of,
    ed448_token,
    header,
    hmac_token,
    message,
    message_id,
    oversize_token,
    raw_token,
    signer,
    variant,
)
from protocol.vectors.valid import statement_token, transfer_token


def _broken_signature(token: str) -> str:
    """The token with unused low bits set in the signature's last character."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet[alphabet.index(token[-1]) | 1]
    return token[:-1] + last


def _invalid_tokens() -> list[tuple[str, str, str, str]]:
    """``(name, token, receiver, error code)``."""
    good = transfer_token(500, 5)
    base = claims_of(good)
    h, p, s = good.split(".")
    k2 = header("cafe:k2")

    def signed(claims: dict[str, Any], kid: str = "cafe:k2") -> str:
        return raw_token(header(kid), claims, kid)

    def body(**changes: Any) -> str:
        return signed(body_variant(base, **changes))

    answer = claims_of(
        message(
            TransferAnswer(in_reply_to=message_id(5), outcome="accepted", reason=None),
            kid="bookshop:k1",
            aud="cafe",
            n=60,
        )
    )
    statement = claims_of(statement_token())
    x = signer("cafe:k2").public_jwk().x
    B = "bookshop"
    return [
        ("token longer than 65536 bytes", oversize_token(), B, "token_too_large"),
        ("empty string", "", B, "malformed"),
        ("two segments", f"{h}.{p}", B, "malformed"),
        ("four segments", f"{good}.{s}", B, "malformed"),
        ("base64 padding", f"{h}.{p}==.{s}", B, "malformed"),
        ("non-ASCII character", good + "é", B, "malformed"),
        ("header not JSON", f"{b64url_encode(b'not json')}.{p}.{s}", B, "malformed"),
        ("header a JSON array", raw_token(b'["Ed25519"]', base, "cafe:k2"), B, "malformed"),
        (
            "duplicate kid in the header",
            raw_token(
                b'{"alg":"Ed25519","kid":"bookshop:k1","kid":"cafe:k2","typ":"konsort+jwt"}',
                base,
                "cafe:k2",
            ),
            B,
            "malformed",
        ),
        (
            "header with an embedded jwk",
            raw_token({**k2, "jwk": signer("cafe:k2").public_jwk().to_dict()}, base, "cafe:k2"),
            B,
            "malformed",
        ),
        (
            "header with crit",
            raw_token({**k2, "crit": ["exp"], "exp": EXPIRES}, base, "cafe:k2"),
            B,
            "malformed",
        ),
        (
            "header typ JWT",
            raw_token(header("cafe:k2", typ="JWT"), base, "cafe:k2"),
            B,
            "malformed",
        ),
        (
            "manifest typ on a message",
            raw_token(header("cafe:k2", typ=MANIFEST_JWT_TYPE), base, "cafe:k2"),
            B,
            "malformed",
        ),
        ("signature with unused bits set", _broken_signature(good), B, "malformed"),
        (
            "duplicate amount in the body",
            raw_token(
                k2,
                canonical_json(base).replace(
                    b'"receiver_points":', b'"receiver_points":1,"receiver_points":'
                ),
                "cafe:k2",
            ),
            B,
            "malformed",
        ),
        (
            "invalid UTF-8 in the payload",
            raw_token(k2, canonical_json(base).replace(b'"bookshop"', b'"bo\xffkshop"'), "cafe:k2"),
            B,
            "malformed",
        ),
        (
            "NaN in the payload",
            raw_token(
                k2,
                canonical_json(base).replace(f'"iat":{ISSUED}'.encode(), b'"iat":NaN'),
                "cafe:k2",
            ),
            B,
            "malformed",
        ),
        (
            "duplicate aud claim",
            raw_token(
                k2,
                canonical_json(base).replace(
                    b'{"aud":"bookshop"', b'{"aud":"cafe","aud":"bookshop"'
                ),
                "cafe:k2",
            ),
            B,
            "malformed",
        ),
        (
            "float iat",
            raw_token(
                k2,
                canonical_json(base).replace(
                    f'"iat":{ISSUED}'.encode(), f'"iat":{ISSUED}.0'.encode()
                ),
                "cafe:k2",
            ),
            B,
            "malformed",
        ),
        ("payload a JSON array", raw_token(k2, b"[1]", "cafe:k2"), B, "malformed"),
        ("no protocol version", signed(variant(base, v=...)), B, "malformed"),
        ("protocol version as a string", signed(variant(base, v="1")), B, "malformed"),
        ("extra claim nbf", signed(variant(base, nbf=ISSUED)), B, "malformed"),
        ("missing exp", signed(variant(base, exp=...)), B, "malformed"),
        ("iat as boolean", signed(variant(base, iat=True)), B, "malformed"),
        ("exp before iat", signed(variant(base, exp=ISSUED - 1)), B, "malformed"),
        ("lifetime over seven days", signed(variant(base, exp=ISSUED + 604_801)), B, "malformed"),
        ("issuer addressed itself", signed(variant(base, aud="cafe")), "cafe", "malformed"),
        ("jti too short", signed(variant(base, jti="short")), B, "malformed"),
        ("body not an object", signed(variant(base, body=[])), B, "malformed"),
        (
            "alg none, no signature",
            f"{b64url_encode(canonical_json(header('cafe:k2', 'none')))}.{p}.",
            B,
            "alg_not_allowed",
        ),
        (
            "alg none with the Ed25519 signature",
            raw_token(header("cafe:k2", "none"), base, "cafe:k2"),
            B,
            "alg_not_allowed",
        ),
        ("alg EdDSA with an Ed448 key", ed448_token(base, "cafe:k2"), B, "alg_not_allowed"),
        (
            "alg EdDSA with the Ed25519 key",
            raw_token(header("cafe:k2", "EdDSA"), base, "cafe:k2"),
            B,
            "alg_not_allowed",
        ),
        (
            "alg HS256 keyed with the public key",
            hmac_token(base, "cafe:k2", x.encode()),
            B,
            "alg_not_allowed",
        ),
        (
            "alg in lower case",
            raw_token(header("cafe:k2", "ed25519"), base, "cafe:k2"),
            B,
            "alg_not_allowed",
        ),
        (
            "header without alg",
            raw_token({"kid": "cafe:k2", "typ": "konsort+jwt"}, base, "cafe:k2"),
            B,
            "alg_not_allowed",
        ),
        (
            "node not in the manifest",
            signed(variant(base, iss="outsider"), "outsider:k1"),
            B,
            "unknown_issuer",
        ),
        ("kid not in the manifest", signed(base, "cafe:k9"), B, "unknown_key"),
        ("iss is not the key's node", signed(variant(base, iss="charity")), B, "unknown_key"),
        (
            "body tampered after signing",
            f"{h}.{b64url_encode(canonical_json(body_variant(base, receiver_points=9999)))}.{s}",
            B,
            "bad_signature",
        ),
        ("signed by another node's key", raw_token(k2, base, "bookshop:k1"), B, "bad_signature"),
        (
            "signature truncated",
            f"{h}.{p}.{b64url_encode(b64url_decode(s)[:63])}",
            B,
            "bad_signature",
        ),
        ("alg Ed25519, empty signature", f"{h}.{p}.", B, "bad_signature"),
        ("protocol version 2", signed(variant(base, v=2)), B, "unsupported_version"),
        ("protocol version 0", signed(variant(base, v=0)), B, "unsupported_version"),
        (
            "revoked key",
            raw_token(header("bookshop:k0"), answer, "bookshop:k0"),
            "cafe",
            "key_revoked",
        ),
        ("key not valid yet", signed(base, "cafe:k3"), B, "key_not_valid"),
        ("retired key used after its not_after", signed(base, "cafe:k1"), B, "key_not_valid"),
        (
            "suspended member",
            signed(variant(base, iss="bikeshop"), "bikeshop:k1"),
            B,
            "member_suspended",
        ),
        ("addressed to another node", good, "charity", "wrong_audience"),
        (
            "unknown message type",
            signed(variant(base, typ="transfer.reverse")),
            B,
            "unknown_message_type",
        ),
        ("empty message type", signed(variant(base, typ="")), B, "unknown_message_type"),
        ("points as a string", body(sender_points="500"), B, "invalid_body"),
        ("points as a boolean", body(sender_points=True), B, "invalid_body"),
        ("negative points", body(receiver_points=-208), B, "invalid_body"),
        ("points above 2**53 - 1", body(receiver_points=2**53), B, "invalid_body"),
        ("personal data field email", body(email="ann@example.com"), B, "invalid_body"),
        ("missing subject", body(subject=...), B, "invalid_body"),
        ("subject not a pseudonym", body(subject="ann@example.com"), B, "invalid_body"),
        (
            "rejection without a reason",
            raw_token(
                header("bookshop:k1"), body_variant(answer, outcome="rejected"), "bookshop:k1"
            ),
            "cafe",
            "invalid_body",
        ),
        (
            "statement net does not match",
            signed(body_variant(statement, net_minor=statement["body"]["net_minor"] + 1)),
            B,
            "invalid_body",
        ),
        (
            "statement creditor a third node",
            signed(
                body_variant(
                    statement,
                    entries=[{**statement["body"]["entries"][0], "creditor": "charity"}],
                    net_minor=600,
                )
            ),
            B,
            "invalid_body",
        ),
        (
            "iat beyond the clock skew",
            signed(variant(base, iat=VERIFY_AT + 61, exp=VERIFY_AT + 3661)),
            B,
            "not_yet_valid",
        ),
        (
            "exp equal to now",
            signed(variant(base, iat=VERIFY_AT - 3600, exp=VERIFY_AT)),
            B,
            "expired",
        ),
        (
            "expired an hour ago",
            signed(variant(base, iat=VERIFY_AT - 7200, exp=VERIFY_AT - 3600)),
            B,
            "expired",
        ),
    ]


def invalid_message_vectors() -> list[dict[str, Any]]:
    return [
        {"name": name, "token": token, "receiver": receiver, "error": code}
        for name, token, receiver, code in _invalid_tokens()
    ]


def manifest_update_vectors(current: Manifest, steward: SigningKey) -> list[dict[str, Any]]:
    """Candidates for a node holding ``current``: verify, then update."""
    claims = current.claims()
    mh = header(STEWARD_KID, typ=MANIFEST_JWT_TYPE)
    token = sign_manifest(current, steward=steward)
    h, p, s = token.split(".")
    newer = set_member_status(current, "bikeshop", "active", issued_at=VERIFY_AT)

    def other(**changes: Any) -> str:
        return raw_token(mh, variant(claims, **changes), STEWARD_KID)

    tampered = b64url_encode(canonical_json(variant(claims, version=99)))
    return [
        {
            "name": "newer version replaces",
            "candidate": sign_manifest(newer, steward=steward),
            "expected": "replace",
        },
        {"name": "same version and content", "candidate": token, "expected": "unchanged"},
        {
            "name": "same version, other content",
            "candidate": other(issued_at=VERIFY_AT),
            "expected": "manifest_conflict",
        },
        {"name": "older version", "candidate": other(version=6), "expected": "manifest_stale"},
        {
            "name": "other consortium",
            "candidate": other(consortium="elsewhere", version=8),
            "expected": "wrong_consortium",
        },
        {
            "name": "members not sorted",
            "candidate": other(members=claims["members"][::-1], version=8),
            "expected": "invalid_manifest",
        },
        {
            "name": "point value as a string",
            "candidate": other(
                members=[{**claims["members"][0], "point_value": "20"}, *claims["members"][1:]],
                version=8,
            ),
            "expected": "invalid_manifest",
        },
        {
            "name": "signed by a node key",
            "candidate": raw_token({**mh, "kid": "cafe:k2"}, claims, "cafe:k2"),
            "expected": "unknown_key",
        },
        {
            "name": "tampered after signing",
            "candidate": f"{h}.{tampered}.{s}",
            "expected": "bad_signature",
        },
        {
            "name": "message typ on a manifest",
            "candidate": raw_token(header(STEWARD_KID), claims, STEWARD_KID),
            "expected": "malformed",
        },
        {
            "name": "alg none",
            "candidate": f"{b64url_encode(canonical_json({**mh, 'alg': 'none'}))}.{p}.",
            "expected": "alg_not_allowed",
        },
    ]
