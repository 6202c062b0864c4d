"""Ed25519 keys: generation, PEM files, RFC 8037 JWKs, key ids, and the JWS algorithm.

A key id (``kid``) names one key of one node: ``<node_id>:<key_name>``, for
example ``cafe:2026-01``. The steward's key id is free-form (same alphabet).

PyJWT 2.15 only knows the polymorphic ``EdDSA`` name that RFC 9864 deprecates,
so this module defines :class:`Ed25519Algorithm` (PyJWT's OKP algorithm narrowed
to Ed25519 keys) and a private :class:`jwt.PyJWS` instance on which it is the
*only* registered algorithm: nothing here can ever sign or verify with
``none``, HMAC, ``EdDSA`` or Ed448.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
)
from jwt.algorithms import OKPAlgorithm
from jwt.api_jws import PyJWS
from pydantic import BaseModel, ConfigDict, Field, model_validator

from protocol.encoding import b64url_decode, b64url_encode

ALGORITHM: Final = "Ed25519"
"""The only JWS ``alg`` value (RFC 9864 fully-specified EdDSA with Ed25519)."""

NODE_ID_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"
KEY_NAME_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"
STEWARD_KID_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
_NODE_ID = re.compile(NODE_ID_PATTERN)
_KEY_NAME = re.compile(KEY_NAME_PATTERN)


def make_kid(node_id: str, key_name: str) -> str:
    """The key id of ``node_id``'s key ``key_name``: ``"<node_id>:<key_name>"``."""
    if _NODE_ID.fullmatch(node_id) is None:
        raise ValueError(f"invalid node id {node_id!r}")
    if _KEY_NAME.fullmatch(key_name) is None:
        raise ValueError(f"invalid key name {key_name!r}")
    return f"{node_id}:{key_name}"


def kid_node(kid: str) -> str:
    """The node id part of a node key id (everything before the first ``:``)."""
    return kid.partition(":")[0]


class Ed25519Algorithm(OKPAlgorithm):
    """PyJWT's OKP algorithm, accepting Ed25519 keys only (RFC 9864 ``Ed25519``)."""

    _crypto_key_types = (Ed25519PrivateKey, Ed25519PublicKey)


def _ed25519_only_jws() -> PyJWS:
    jws = PyJWS(algorithms=[])
    jws.register_algorithm(ALGORITHM, Ed25519Algorithm())
    return jws


JWS = _ed25519_only_jws()
"""PyJWS that knows exactly one algorithm, ``Ed25519``."""


def generate_private_key() -> Ed25519PrivateKey:
    """A new random Ed25519 private key (from the operating system's CSPRNG)."""
    return Ed25519PrivateKey.generate()


def private_key_from_seed(seed: bytes) -> Ed25519PrivateKey:
    """The Ed25519 private key with the given 32-byte seed (test vectors only)."""
    if len(seed) != 32:
        raise ValueError("an Ed25519 seed is 32 bytes")
    return Ed25519PrivateKey.from_private_bytes(seed)


def private_key_to_pem(key: Ed25519PrivateKey, *, password: bytes | None = None) -> bytes:
    """PKCS#8 PEM bytes, encrypted when a password is given. Write them mode 0600."""
    encryption = BestAvailableEncryption(password) if password else NoEncryption()
    return key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, encryption)


def load_private_key_pem(data: bytes, *, password: bytes | None = None) -> Ed25519PrivateKey:
    """Load a PEM private key; ValueError unless it is an Ed25519 key."""
    key = load_pem_private_key(data, password=password)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"expected an Ed25519 private key, got {type(key).__name__}")
    return key


def public_key_bytes(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    """The 32 raw bytes of the public key."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


class PublicJwk(BaseModel):
    """An RFC 8037 public JWK for an Ed25519 signing key, with its key id.

    All six members are required and all but ``kid`` and ``x`` are fixed, so a
    JWK has exactly one canonical form.
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    kty: Literal["OKP"]
    crv: Literal["Ed25519"]
    alg: Literal["Ed25519"]
    use: Literal["sig"]
    kid: str = Field(pattern=STEWARD_KID_PATTERN)
    x: str = Field(pattern=r"^[A-Za-z0-9_-]{43}$")

    @model_validator(mode="after")
    def _check(self) -> PublicJwk:
        b64url_decode(self.x)  # the 43 characters must be the canonical form of 32 bytes
        return self

    def public_key(self) -> Ed25519PublicKey:
        """The cryptography public key; ValueError if ``x`` is not a valid point."""
        return Ed25519PublicKey.from_public_bytes(b64url_decode(self.x))

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump()


def public_jwk(key: Ed25519PrivateKey | Ed25519PublicKey, *, kid: str) -> PublicJwk:
    """The public JWK of ``key`` under key id ``kid``."""
    return PublicJwk(
        kty="OKP",
        crv="Ed25519",
        alg=ALGORITHM,
        use="sig",
        kid=kid,
        x=b64url_encode(public_key_bytes(key)),
    )


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A private key together with the key id it signs under."""

    kid: str
    private_key: Ed25519PrivateKey = field(repr=False, compare=False)

    @property
    def node_id(self) -> str:
        return kid_node(self.kid)

    def public_jwk(self) -> PublicJwk:
        return public_jwk(self.private_key, kid=self.kid)
