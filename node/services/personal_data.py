"""Sealing a customer's personal data with their own data key.

Each customer gets a random 256-bit data key. Their personal fields are one
JSON document encrypted with it (AES-256-GCM, the customer id as associated
data so a blob cannot be moved to another customer). The data key itself is
stored wrapped by the node's wrapping key. Destroying the wrapped key makes
the live blob unreadable for good (crypto-shredding). A backup taken before
the erasure still holds both the wrapped key and the blob, so backups need a
retention limit of their own (docs/operations.md says how).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from datetime import date
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import BaseModel, ConfigDict, EmailStr, Field

from node.secrets import NodeSecrets

NONCE_BYTES = 12


class PersonalData(BaseModel):
    """What a node may know about a member. Every field is optional."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(default=None, min_length=1, max_length=200)
    email: EmailStr | None = None
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9 ()-]{4,30}$")
    birthday: date | None = None


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def _encrypt(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def _decrypt(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)


def wrap_data_key(secrets: NodeSecrets, customer_id: str, data_key: bytes) -> bytes:
    return _encrypt(secrets.wrapping_key, data_key, f"data-key:{customer_id}".encode())


def unwrap_data_key(secrets: NodeSecrets, customer_id: str, wrapped: bytes) -> bytes:
    return _decrypt(secrets.wrapping_key, wrapped, f"data-key:{customer_id}".encode())


def seal(data_key: bytes, customer_id: str, data: PersonalData) -> bytes:
    document: dict[str, Any] = data.model_dump(mode="json", exclude_none=True)
    plaintext = json.dumps(document, separators=(",", ":"), sort_keys=True).encode()
    return _encrypt(data_key, plaintext, f"profile:{customer_id}".encode())


def unseal(data_key: bytes, customer_id: str, sealed: bytes) -> PersonalData:
    plaintext = _decrypt(data_key, sealed, f"profile:{customer_id}".encode())
    return PersonalData.model_validate_json(plaintext)


def keyed_digest(secrets: NodeSecrets, data: PersonalData) -> str:
    """A keyed digest of all personal fields (to recognise a repeated request)."""
    document = json.dumps(data.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hmac.new(secrets.request_key, document.encode(), hashlib.sha256).hexdigest()


def email_digest(secrets: NodeSecrets, email: str) -> str:
    """Keyed digest for finding a customer by email; the email itself is never stored."""
    normalised = email.strip().lower().encode()
    return hmac.new(secrets.lookup_key, normalised, hashlib.sha256).hexdigest()
