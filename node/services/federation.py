"""The node as a consortium member: its manifest, its signer, its pseudonyms.

:class:`Federation` lives in the NodeContext. It reads the manifest in force
from the database (the newest verified version; a cheap version check per
use, a parse only when it changed) and picks the signing key the manifest
lists as valid now. Manifests enter only through :func:`load_manifest`,
which verifies the steward's signature against the pinned steward key and
refuses older or conflicting versions.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import Session

from node.db import Database
from node.errors import Conflict, KonsortError, ValidationFailed
from node.secrets import NodeSecrets
from node.services import identity
from node.settings import Settings
from node.store import federation as store
from protocol import (
    Manifest,
    Member,
    ProtocolError,
    SigningKey,
    pairwise_pseudonym,
    update_manifest,
    verify_manifest,
)


class NotFederated(KonsortError):
    """No manifest is loaded, or it does not list this node with a usable key."""

    code = "not_federated"
    http_status = 503


def unix(moment: datetime) -> int:
    return int(moment.timestamp())


def from_unix(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@dataclass
class Federation:
    node_id: str
    keys_dir: Path
    secrets: NodeSecrets
    #: Lifetime of the requests this node signs (their exp - iat).
    message_ttl_seconds: int
    #: The node's settings (for the program in force when crediting points).
    settings: Settings | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _manifest: Manifest | None = field(default=None, repr=False)
    _keys: list[SigningKey] | None = field(default=None, repr=False)

    def manifest_txn(self, *, session: Session) -> Manifest | None:
        version = store.latest_manifest_version(session=session)
        cached = self._manifest
        if version is None:
            return None
        if cached is not None and cached.version == version:
            return cached
        found = store.latest_manifest(session=session)
        assert found is not None
        manifest = verify_manifest(
            found[1], steward_keys=identity.pinned_steward_keys(self.keys_dir)
        )
        with self._lock:
            if self._manifest is None or self._manifest.version < manifest.version:
                self._manifest = manifest
        return manifest

    def manifest(self, db: Database) -> Manifest:
        with db.read() as session:
            found = self.manifest_txn(session=session)
        if found is None:
            raise NotFederated("this node has no consortium manifest yet (konsort consortium load)")
        return found

    def require_manifest_txn(self, *, session: Session) -> Manifest:
        found = self.manifest_txn(session=session)
        if found is None:
            raise NotFederated("this node has no consortium manifest yet (konsort consortium load)")
        return found

    def signer(self, manifest: Manifest, *, now: datetime) -> SigningKey:
        keys = self._keys
        if keys is None:
            keys = self._keys = identity.load_signing_keys(self.keys_dir, node_id=self.node_id)
        found = identity.current_signer(keys, manifest, now=unix(now))
        if found is None:  # a key made since start-up (konsort keys rotate)?
            self._keys = identity.load_signing_keys(self.keys_dir, node_id=self.node_id)
            found = identity.current_signer(self._keys, manifest, now=unix(now))
        if found is None:
            raise NotFederated(
                f"manifest version {manifest.version} lists no valid key of {self.node_id}"
            )
        return found

    def member(self, manifest: Manifest, node_id: str) -> Member:
        found = manifest.member(node_id)
        if found is None:
            raise ValidationFailed(
                f"{node_id!r} is not a member of the consortium", field="partner"
            )
        return found

    def pseudonym(self, customer_id: str, partner: str) -> str:
        """Our pairwise pseudonym for a member towards ``partner``."""
        return pairwise_pseudonym(self.secrets.pseudonym_key, customer=customer_id, partner=partner)


def load_manifest(db: Database, *, keys_dir: Path, token: str, now: datetime) -> Manifest:
    """Verify a steward-signed manifest and keep it if it is newer than the one held."""
    steward_keys = identity.pinned_steward_keys(keys_dir)
    if not steward_keys:
        raise NotFederated("no steward key is pinned (konsort consortium pin-steward)")
    try:
        candidate = verify_manifest(token.strip(), steward_keys=steward_keys)
    except ProtocolError as exc:
        raise ValidationFailed(f"the manifest does not verify: {exc}", code=exc.code) from None

    def unit(session: Session) -> Manifest:
        current_row = store.latest_manifest(session=session)
        current = (
            verify_manifest(current_row[1], steward_keys=steward_keys) if current_row else None
        )
        try:
            chosen = update_manifest(current, candidate)
        except ProtocolError as exc:
            raise Conflict(str(exc), code=exc.code) from None
        if current is None or chosen.version != current.version:
            store.insert_manifest(
                session=session,
                version=chosen.version,
                consortium=chosen.consortium,
                token=token.strip(),
                now=now,
            )
        return chosen

    return db.write(unit)
