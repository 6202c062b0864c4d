"""What an operator sees of the consortium: the members of the manifest in force
with their keys and validity, this node's own signing keys and which one signs,
and key rotation (the service behind ``konsort keys show`` and ``keys rotate``).

Rotation makes a new key file (node.services.identity); the node keeps signing
with the older key until the steward publishes a manifest that lists the new
one. A rotation names the newest key the operator saw: when a newer one exists
already (a double submit, or another operator was quicker) no second key is
made and that one is returned.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from node.db import Database
from node.errors import ConfigurationError
from node.services import identity
from node.services.federation import Federation, from_unix, unix
from protocol import Manifest, SigningKey


def manifest_view(manifest: Manifest, *, own_node: str, now: datetime) -> dict[str, Any]:
    """The manifest's members and their keys (times as datetimes)."""
    at = unix(now)
    return {
        "consortium": manifest.consortium,
        "version": manifest.version,
        "issued_at": from_unix(manifest.issued_at),
        "currency": manifest.settlement_currency,
        "exponent": manifest.minor_unit_exponent,
        "members": [
            {
                "node_id": m.node_id,
                "display_name": m.display_name,
                "kind": m.kind,
                "status": m.status,
                "endpoint": m.endpoint,
                "point_value": m.point_value,
                "is_self": m.node_id == own_node,
                "keys": [
                    {
                        "kid": k.kid,
                        "not_before": from_unix(k.not_before),
                        "not_after": from_unix(k.not_after),
                        "revoked_at": from_unix(k.revoked_at) if k.revoked_at is not None else None,
                        "valid_now": k.valid_at(at),
                    }
                    for k in m.keys
                ],
            }
            for m in manifest.members
        ],
    }


def key_state(
    key: SigningKey, manifest: Manifest | None, signer: SigningKey | None, at: int
) -> str:
    """signing, valid, not_valid (listed, outside its validity), not_listed or no_manifest."""
    if manifest is None:
        return "no_manifest"
    entry = manifest.key(key.kid)
    if entry is None or entry.key.jwk.x != key.public_jwk().x:
        return "not_listed"
    if signer is not None and signer.kid == key.kid:
        return "signing"
    return "valid" if entry.key.valid_at(at) else "not_valid"


def consortium_overview(db: Database, fed: Federation, *, now: datetime) -> dict[str, Any]:
    """The manifest in force (or None) and this node's keys, oldest first."""
    with db.read() as session:
        manifest = fed.manifest_txn(session=session)
    keys = identity.load_signing_keys(fed.keys_dir, node_id=fed.node_id)
    at = unix(now)
    signer = identity.current_signer(keys, manifest, now=at) if manifest else None
    return {
        "manifest": manifest_view(manifest, own_node=fed.node_id, now=now) if manifest else None,
        "own_keys": [
            {
                "kid": key.kid,
                "state": key_state(key, manifest, signer, at),
                "jwk": key.public_jwk().model_dump_json(),
            }
            for key in keys
        ],
    }


@dataclass(frozen=True)
class RotatedKey:
    kid: str
    #: The public JWK (JSON) to give to the steward.
    jwk: str
    created: bool


def rotate_signing_key(fed: Federation, *, newest_seen: str, now: datetime) -> RotatedKey:
    """Make a new signing key unless one newer than ``newest_seen`` exists already."""
    keys = identity.load_signing_keys(fed.keys_dir, node_id=fed.node_id)
    if not keys:
        raise ConfigurationError("this node has no signing key; run `konsort init`")
    newest = keys[-1]
    if newest.kid != newest_seen:
        return RotatedKey(newest.kid, newest.public_jwk().model_dump_json(), created=False)
    key = identity.create_signing_key(fed.keys_dir, node_id=fed.node_id, now=now)
    return RotatedKey(key.kid, key.public_jwk().model_dump_json(), created=True)
