"""The node's identity in the consortium: its Ed25519 signing keys and the
steward key it trusts.

Files in the keys directory (all written with mode 0600):

=========================  ====================================================
``signing/<name>.pem``     a signing key of this node (kid ``<node_id>:<name>``)
``steward.jwk``            the steward's public key, pinned at setup; only
                           manifests it signed are loaded
=========================  ====================================================

Several signing keys may exist at once: that is how rotation works without
downtime. ``konsort keys rotate`` makes a new key; the steward adds its public
key to the manifest; once a manifest lists it as valid, the node signs with
the newest listed key while peers still accept the older one until its
``not_after``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from node.errors import ConfigurationError
from node.secrets import write_secret_file
from protocol import (
    Manifest,
    PublicJwk,
    SigningKey,
    generate_private_key,
    load_private_key_pem,
    make_kid,
    private_key_to_pem,
)

SIGNING_DIR = "signing"
STEWARD_FILE = "steward.jwk"


def new_key_name(now: datetime) -> str:
    """A sortable key name: ``k`` and the UTC time to the second."""
    return "k" + now.astimezone(UTC).strftime("%Y%m%dT%H%M%S")


def create_signing_key(keys_dir: Path, *, node_id: str, now: datetime) -> SigningKey:
    """Write a new signing key file (mode 0600) and return it."""
    name = new_key_name(now)
    path = keys_dir / SIGNING_DIR / f"{name}.pem"
    if path.exists():
        raise ConfigurationError(f"a key named {name} exists already; try again in a second")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = generate_private_key()
    write_secret_file(path, private_key_to_pem(key))
    return SigningKey(make_kid(node_id, name), key)


def load_signing_keys(keys_dir: Path, *, node_id: str) -> list[SigningKey]:
    """Every signing key of this node, oldest first."""
    folder = keys_dir / SIGNING_DIR
    if not folder.is_dir():
        return []
    keys = []
    for path in sorted(folder.glob("*.pem")):
        try:
            private = load_private_key_pem(path.read_bytes())
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"cannot read signing key {path.name}: {exc}") from None
        keys.append(SigningKey(make_kid(node_id, path.stem), private))
    return keys


def current_signer(keys: list[SigningKey], manifest: Manifest, *, now: int) -> SigningKey | None:
    """The newest of our keys that the manifest lists as valid now (None: not a member)."""
    usable = []
    for key in keys:
        entry = manifest.key(key.kid)
        if entry is None or not entry.key.valid_at(now):
            continue
        if entry.key.jwk.x != key.public_jwk().x:
            continue  # the manifest lists another key under this kid
        usable.append((entry.key.not_before, key.kid, key))
    return max(usable, key=lambda item: (item[0], item[1]))[2] if usable else None


def pin_steward_key(keys_dir: Path, jwk: PublicJwk) -> Path:
    path = keys_dir / STEWARD_FILE
    keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_secret_file(path, (jwk.model_dump_json() + "\n").encode())
    return path


def pinned_steward_keys(keys_dir: Path) -> list[PublicJwk]:
    path = keys_dir / STEWARD_FILE
    if not path.exists():
        return []
    try:
        return [PublicJwk.model_validate(json.loads(path.read_text()))]
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read the pinned steward key {path}: {exc}") from None
