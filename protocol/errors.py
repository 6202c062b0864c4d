"""Errors raised by the protocol library.

Every error carries a stable string ``code``: nodes put it in their JSON error
bodies and logs, tests and the published vectors compare against it, and it
never changes meaning between releases. The message text is for humans only.

The hierarchy::

    ProtocolError                      (code)
    ├── VerificationError              a token was refused
    │   ├── MalformedToken             malformed
    │   │   └── TokenTooLarge          token_too_large
    │   ├── AlgorithmNotAllowed        alg_not_allowed
    │   ├── UnknownIssuer              unknown_issuer
    │   ├── UnknownKey                 unknown_key
    │   ├── BadSignature               bad_signature
    │   ├── UnsupportedVersion         unsupported_version
    │   ├── KeyRevoked                 key_revoked
    │   ├── KeyNotValid                key_not_valid
    │   ├── MemberSuspended            member_suspended
    │   ├── WrongAudience              wrong_audience
    │   ├── UnknownMessageType         unknown_message_type
    │   ├── InvalidBody                invalid_body
    │   ├── NotYetValid                not_yet_valid
    │   └── Expired                    expired   (carries the authenticated message)
    ├── ManifestError                  a manifest update was refused
    │   ├── InvalidManifest            invalid_manifest
    │   ├── ManifestStale              manifest_stale
    │   ├── ManifestConflict           manifest_conflict
    │   └── WrongConsortium            wrong_consortium
    └── ConversionError                amount_too_small

The checks of :func:`protocol.verify_message` run in a fixed order, written in
docs/protocol.md, so one token always yields one code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from protocol.envelope import Message


class ProtocolError(Exception):
    """Base class of every error the library raises on purpose."""

    code: str = "protocol_error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, detail={self.detail!r})"


class VerificationError(ProtocolError):
    """A token (message or manifest) was refused; nothing in it may be trusted."""

    code = "verification_failed"


class MalformedToken(VerificationError):
    """Not a compact JWS of the expected shape, or not in canonical form."""

    code = "malformed"


class TokenTooLarge(MalformedToken):
    """Longer than MAX_TOKEN_BYTES; refused before any parsing."""

    code = "token_too_large"


class AlgorithmNotAllowed(VerificationError):
    """The header's ``alg`` is anything but ``Ed25519`` (``none``, ``EdDSA``, HMAC...)."""

    code = "alg_not_allowed"


class UnknownIssuer(VerificationError):
    """The node named by the key id is not a member of the consortium."""

    code = "unknown_issuer"


class UnknownKey(VerificationError):
    """The key id is not among the issuer's keys (or not the issuer's at all)."""

    code = "unknown_key"


class BadSignature(VerificationError):
    """The signature does not verify under the named key."""

    code = "bad_signature"


class UnsupportedVersion(VerificationError):
    """The payload's protocol version ``v`` is not one this library speaks."""

    code = "unsupported_version"


class KeyRevoked(VerificationError):
    """The signing key has been revoked in the manifest."""

    code = "key_revoked"


class KeyNotValid(VerificationError):
    """The message's ``iat`` lies outside the key's validity period."""

    code = "key_not_valid"


class MemberSuspended(VerificationError):
    """The issuer is a suspended member; its messages are refused."""

    code = "member_suspended"


class WrongAudience(VerificationError):
    """The message is addressed to another node."""

    code = "wrong_audience"


class UnknownMessageType(VerificationError):
    """The ``typ`` claim names no message type of this protocol version."""

    code = "unknown_message_type"


class InvalidBody(VerificationError):
    """The body does not satisfy its message type's schema."""

    code = "invalid_body"


class NotYetValid(VerificationError):
    """``iat`` is further in the future than the allowed clock skew."""

    code = "not_yet_valid"


class Expired(VerificationError):
    """The receiver's clock is at or past ``exp``.

    Expiry is checked last, so the message is authentic and well-formed; it is
    attached as ``verified`` because a receiver must still answer it: a first
    delivery after ``exp`` gets a signed rejection, a repeat its stored answer.
    """

    code = "expired"

    def __init__(self, detail: str, *, verified: Message) -> None:
        super().__init__(detail)
        self.verified = verified


class ManifestError(ProtocolError):
    """A manifest could not be accepted as the node's current manifest."""

    code = "manifest_error"


class InvalidManifest(ManifestError):
    """The manifest's content breaks a manifest rule (schema, duplicate ids...)."""

    code = "invalid_manifest"


class ManifestStale(ManifestError):
    """The candidate manifest's version is older than the current one."""

    code = "manifest_stale"


class ManifestConflict(ManifestError):
    """Same version as the current manifest but different content."""

    code = "manifest_conflict"


class WrongConsortium(ManifestError):
    """The candidate manifest belongs to another consortium."""

    code = "wrong_consortium"


class ConversionError(ProtocolError, ValueError):
    """A point conversion would move nothing (less than one receiving point)."""

    code = "amount_too_small"


VERIFICATION_ERRORS: tuple[type[VerificationError], ...] = (
    TokenTooLarge,
    MalformedToken,
    AlgorithmNotAllowed,
    UnknownIssuer,
    UnknownKey,
    BadSignature,
    UnsupportedVersion,
    KeyRevoked,
    KeyNotValid,
    MemberSuspended,
    WrongAudience,
    UnknownMessageType,
    InvalidBody,
    NotYetValid,
    Expired,
)
"""Every concrete verification error, in the order of its first check
(``malformed`` covers checks at several points of the order)."""
