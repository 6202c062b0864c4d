"""The consortium manifest: who is a member, with which keys, at which point value.

The steward signs the manifest as a compact JWS (header ``typ``
``konsort-manifest+jwt``) with its own Ed25519 key, which every node pins at
setup. The payload is the canonical JSON of :class:`Manifest` plus ``"v": 1``.

Rules (docs/protocol.md, "Manifest"):

* members are sorted by ``node_id`` and each member's keys by ``kid``, so one
  manifest has one encoding and "same content" means "same bytes";
* a member's key ids are ``<node_id>:<key_name>``;
* a key is good for messages whose ``iat`` is in ``[not_before, not_after)`` and
  before ``revoked_at``; a revoked key verifies nothing once ``revoked_at`` has
  passed. Keys rotate by publishing the next key before the old one's
  ``not_after``, so both are valid during the overlap;
* a newer ``version`` replaces an older one; an older version, or the same
  version with other content, is refused (:func:`update_manifest`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Self

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from protocol.encoding import canonical_json
from protocol.errors import (
    InvalidManifest,
    ManifestConflict,
    ManifestStale,
    UnknownKey,
    WrongConsortium,
)
from protocol.jws import (
    MANIFEST_JWT_TYPE,
    PROTOCOL_VERSION,
    check_signature,
    sign_payload,
    split_token,
)
from protocol.keys import PublicJwk, SigningKey
from protocol.messages import Currency, NodeId, OpaqueId, Points, Timestamp, Version

DisplayName = Annotated[str, Field(pattern=r"^[^\x00-\x1f\x7f]{1,100}$")]
Endpoint = Annotated[
    str, Field(pattern=r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?$")
]


class MemberKey(BaseModel):
    """One public key of a member and the period it may sign in."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    jwk: PublicJwk
    not_before: Timestamp
    not_after: Timestamp
    revoked_at: Timestamp | None

    @model_validator(mode="after")
    def _check(self) -> MemberKey:
        if self.not_after <= self.not_before:
            raise ValueError("not_after must be after not_before")
        return self

    @property
    def kid(self) -> str:
        return self.jwk.kid

    def valid_at(self, instant: int) -> bool:
        """Whether a message issued at ``instant`` may be signed with this key."""
        if self.revoked_at is not None and instant >= self.revoked_at:
            return False
        return self.not_before <= instant < self.not_after


class Member(BaseModel):
    """A node of the consortium. ``point_value``: minor units per point."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    node_id: NodeId
    display_name: DisplayName
    kind: Literal["business", "charity"]
    endpoint: Endpoint
    point_value: Points
    status: Literal["active", "suspended"]
    keys: list[MemberKey] = Field(min_length=1, max_length=16)

    @model_validator(mode="after")
    def _check(self) -> Member:
        kids = [key.kid for key in self.keys]
        if any(a >= b for a, b in zip(kids, kids[1:], strict=False)):
            raise ValueError("keys must be sorted by kid and unique")
        prefix = self.node_id + ":"
        if not all(kid.startswith(prefix) and ":" not in kid[len(prefix) :] for kid in kids):
            raise ValueError(f"every kid of {self.node_id} must be {prefix}<key name>")
        return self


@dataclass(frozen=True, slots=True)
class KeyEntry:
    """A key looked up by kid, with its member and its parsed public key."""

    member: Member
    key: MemberKey
    public_key: Ed25519PublicKey


@dataclass(frozen=True, slots=True)
class _ManifestIndex:
    members: dict[str, Member]
    keys: dict[str, KeyEntry]


class Manifest(BaseModel):
    """The signed member list. Amounts are in minor units of
    ``settlement_currency``: one minor unit is ``10 ** -minor_unit_exponent`` of
    the currency's major unit (exponent 3 for EUR makes it a tenth of a cent)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    consortium: OpaqueId
    version: Version
    issued_at: Timestamp
    settlement_currency: Currency
    minor_unit_exponent: int = Field(ge=0, le=9)
    members: list[Member] = Field(min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _check(self) -> Manifest:
        ids = [m.node_id for m in self.members]
        if any(a >= b for a, b in zip(ids, ids[1:], strict=False)):
            raise ValueError("members must be sorted by node_id and unique")
        return self

    @functools.cached_property
    def _index(self) -> _ManifestIndex:
        # Built once per manifest, public keys parsed once: verification looks
        # keys up by kid on every message. (A cached_property, not a pydantic
        # private attribute: those are read through a slow __getattr__.)
        return _ManifestIndex(
            members={m.node_id: m for m in self.members},
            keys={
                key.kid: KeyEntry(member, key, key.jwk.public_key())
                for member in self.members
                for key in member.keys
            },
        )

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A validated copy whose key index is rebuilt, never copied stale."""
        return self.model_validate({**self.model_dump(), **(update or {})})

    def member(self, node_id: str) -> Member | None:
        return self._index.members.get(node_id)

    def key(self, kid: str) -> KeyEntry | None:
        return self._index.keys.get(kid)

    def claims(self) -> dict[str, Any]:
        """The signed payload: the manifest plus the protocol version ``v``."""
        return {**self.model_dump(mode="json"), "v": PROTOCOL_VERSION}

    def encoded(self) -> bytes:
        """Canonical JSON of :meth:`claims`; equal bytes mean equal manifests."""
        return canonical_json(self.claims())


def sign_manifest(manifest: Manifest, *, steward: SigningKey) -> str:
    """The manifest as one compact JWS signed by the steward."""
    return sign_payload(manifest.encoded(), signer=steward, jwt_type=MANIFEST_JWT_TYPE)


def verify_manifest(token: str | bytes, *, steward_keys: Iterable[PublicJwk]) -> Manifest:
    """Verify a signed manifest against the pinned steward key(s).

    Raises a :class:`~protocol.errors.VerificationError` (``unknown_key`` when
    the kid is not pinned) or :class:`~protocol.errors.InvalidManifest`.
    """
    compact = split_token(token, jwt_type=MANIFEST_JWT_TYPE)
    pinned = {jwk.kid: jwk for jwk in steward_keys}
    jwk = pinned.get(compact.kid)
    if jwk is None:
        raise UnknownKey(f"{compact.kid!r} is not a pinned steward key")
    claims = check_signature(compact, jwk.public_key())
    claims.pop("v")
    try:
        return Manifest.model_validate(claims)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in error["loc"]) or "manifest"
        raise InvalidManifest(f"{where}: {error['msg']}") from None


def update_manifest(current: Manifest | None, candidate: Manifest) -> Manifest:
    """The manifest a node should hold after receiving ``candidate``.

    Newer version: ``candidate``. Same version and content: ``current``. Raises
    WrongConsortium, ManifestStale (older) or ManifestConflict (same version,
    other content).
    """
    if current is None:
        return candidate
    if candidate.consortium != current.consortium:
        raise WrongConsortium(f"manifest of {candidate.consortium!r}, not {current.consortium!r}")
    if candidate.version > current.version:
        return candidate
    if candidate.version < current.version:
        raise ManifestStale(f"version {candidate.version} is older than {current.version}")
    if candidate.encoded() != current.encoded():
        raise ManifestConflict(f"version {candidate.version} with different content")
    return current


# -- steward edits: each returns the next version -------------------------------


def _edit(manifest: Manifest, members: list[Member], issued_at: int) -> Manifest:
    data = manifest.model_dump()
    data.update(
        version=manifest.version + 1,
        issued_at=issued_at,
        members=[m.model_dump() for m in sorted(members, key=lambda m: m.node_id)],
    )
    return Manifest.model_validate(data)


def _replace_member(manifest: Manifest, node_id: str, **changes: Any) -> list[Member]:
    member = manifest.member(node_id)
    if member is None:
        raise KeyError(node_id)
    updated = Member.model_validate({**member.model_dump(), **changes})
    return [updated if m.node_id == node_id else m for m in manifest.members]


def with_member(manifest: Manifest, member: Member, *, issued_at: int) -> Manifest:
    """Admit ``member``, or replace the member with its node id."""
    others = [m for m in manifest.members if m.node_id != member.node_id]
    return _edit(manifest, [*others, member], issued_at)


def set_member_status(
    manifest: Manifest, node_id: str, status: Literal["active", "suspended"], *, issued_at: int
) -> Manifest:
    """Suspend (or reinstate) a member; its messages are refused while suspended."""
    return _edit(manifest, _replace_member(manifest, node_id, status=status), issued_at)


def rotate_key(
    manifest: Manifest, new_key: MemberKey, *, old_kid: str, old_not_after: int, issued_at: int
) -> Manifest:
    """Add ``new_key`` and end ``old_kid`` at ``old_not_after``; the two must overlap."""
    entry = manifest.key(old_kid)
    if entry is None:
        raise KeyError(old_kid)
    if not new_key.not_before < old_not_after:
        raise ValueError("the new key must become valid before the old one ends")
    old = entry.key.model_dump()
    old["not_after"] = min(old_not_after, entry.key.not_after)
    keys = [k.model_dump() for k in entry.member.keys if k.kid != old_kid]
    keys += [old, new_key.model_dump()]
    keys.sort(key=lambda k: k["jwk"]["kid"])
    members = _replace_member(manifest, entry.member.node_id, keys=keys)
    return _edit(manifest, members, issued_at)


def revoke_key(manifest: Manifest, kid: str, *, revoked_at: int, issued_at: int) -> Manifest:
    """Mark ``kid`` revoked from ``revoked_at`` on."""
    entry = manifest.key(kid)
    if entry is None:
        raise KeyError(kid)
    keys = [
        {**k.model_dump(), "revoked_at": revoked_at} if k.kid == kid else k.model_dump()
        for k in entry.member.keys
    ]
    return _edit(manifest, _replace_member(manifest, entry.member.node_id, keys=keys), issued_at)
