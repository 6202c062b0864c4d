"""The node's secret keys: one master key on disk, the rest derived from it.

``<data_dir>/keys/master.key`` holds 32 random bytes (base64), written with mode
0600 by ``konsort init``. From it HKDF derives one key per purpose, so a key
used for one job can never be confused with another:

- data-key wrapping (AES-256-GCM around each customer's own data key),
- the keyed digest that finds a customer by email without storing the email,
- the HMAC secret of customer API tokens,
- the keyed digest of a request's personal fields (idempotency records).

Reprs never show key material.
"""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from node.errors import ConfigurationError

MASTER_KEY_FILE = "master.key"


def write_secret_file(path: Path, content: bytes) -> None:
    """Create ``path`` with mode 0600 (never readable by others, even briefly)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)


def _derive(master: bytes, purpose: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=f"konsort/{purpose}".encode()
    ).derive(master)


@dataclass(frozen=True)
class NodeSecrets:
    master_key: bytes = field(repr=False)
    wrapping_key: bytes = field(repr=False, init=False)
    lookup_key: bytes = field(repr=False, init=False)
    token_key: bytes = field(repr=False, init=False)
    request_key: bytes = field(repr=False, init=False)
    pseudonym_key: bytes = field(repr=False, init=False)

    def __post_init__(self) -> None:
        if len(self.master_key) != 32:
            raise ConfigurationError("the master key must be 32 bytes")
        object.__setattr__(self, "wrapping_key", _derive(self.master_key, "data-key-wrapping"))
        object.__setattr__(self, "lookup_key", _derive(self.master_key, "email-lookup"))
        object.__setattr__(self, "token_key", _derive(self.master_key, "customer-tokens"))
        object.__setattr__(self, "request_key", _derive(self.master_key, "request-digests"))
        object.__setattr__(self, "pseudonym_key", _derive(self.master_key, "pairwise-pseudonyms"))

    @classmethod
    def generate(cls) -> NodeSecrets:
        return cls(secrets.token_bytes(32))

    @classmethod
    def load(cls, keys_dir: Path) -> NodeSecrets:
        path = keys_dir / MASTER_KEY_FILE
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise ConfigurationError(f"no master key at {path}; run `konsort init` first") from None
        if path.stat().st_mode & 0o077:
            raise ConfigurationError(f"{path} is readable by others; chmod 600 it")
        try:
            return cls(base64.b64decode(raw.strip(), validate=True))
        except ValueError:
            raise ConfigurationError(f"{path} does not hold a base64 key") from None

    def save(self, keys_dir: Path) -> Path:
        path = keys_dir / MASTER_KEY_FILE
        write_secret_file(path, base64.b64encode(self.master_key) + b"\n")
        return path
