"""`konsort keys|consortium|federation ...`: the node's identity in the
consortium, loading the steward's manifest into a node, and the outbox status.

The steward's own commands are in node/cli_steward.py; they share the small
file and time helpers defined here.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from node.clock import Clock, SystemClock, isoformat
from node.errors import ConfigurationError, ValidationFailed
from node.settings import Settings
from protocol import (
    Manifest,
    PublicJwk,
    SigningKey,
)

Command = Callable[[argparse.Namespace, Settings], int]

#: The clock every command here reads (tests swap in a ManualClock).
CLOCK: Clock = SystemClock()
DAY = 86_400
MAX_MANIFEST_BYTES = 1_000_000
FETCH_TIMEOUT_SECONDS = 10.0


def unix_seconds(moment: datetime) -> int:
    return int(moment.timestamp())


def time_text(seconds: int) -> str:
    from node.services.federation import from_unix

    return isoformat(from_unix(seconds))


def invalid_input(exc: ValidationError, what: str) -> ValidationFailed:
    error = exc.errors(include_url=False)[0]
    where = "".join(f".{part}" if i else f": {part}" for i, part in enumerate(error["loc"]))
    return ValidationFailed(f"{what}{where}: {error['msg']}")


def read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot read {what} {path}: {exc.strerror}") from None


def write_public(path: Path, text: str) -> None:
    """Replace ``path`` whole (a reader never sees half a file)."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def read_jwk(value: str) -> PublicJwk:
    """A public JWK given as JSON, or as a file holding it: its first line that starts
    with ``{`` (so the output of `keys show`, `keys rotate` or `init` will do)."""
    text = value if value.lstrip().startswith("{") else read_text(Path(value), "JWK file")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    first = next((line for line in lines if line.startswith("{")), lines[0] if lines else "")
    try:
        return PublicJwk.model_validate_json(first.split("\t")[0])
    except ValidationError as exc:
        raise invalid_input(exc, "jwk") from None


# -- the node's signing keys ---------------------------------------------------------


def jwk_line(key: SigningKey) -> str:
    return key.public_jwk().model_dump_json()


def ensure_signing_key(settings: Settings) -> None:
    """`konsort init`: create the node's first signing key unless it has one."""
    from node.services import identity

    keys = identity.load_signing_keys(settings.keys_dir, node_id=settings.node_id)
    if keys:
        print(f"signing key already present: {keys[-1].kid}")
        return
    key = identity.create_signing_key(settings.keys_dir, node_id=settings.node_id, now=CLOCK.now())
    print(f"wrote signing key {key.kid} (mode 0600); give this public key to the steward:")
    print(jwk_line(key))


def _federation(settings: Settings) -> Any:
    from node.secrets import NodeSecrets
    from node.services.federation import Federation

    return Federation(
        node_id=settings.node_id,
        keys_dir=settings.keys_dir,
        secrets=NodeSecrets.load(settings.keys_dir),
        message_ttl_seconds=settings.federation_message_ttl_seconds,
        settings=settings,
    )


def federation_or_none(settings: Settings) -> Any:
    """The node's federation for a command that may queue messages; None when the
    node has no keys yet (it then belongs to no consortium and has no partners)."""
    try:
        return _federation(settings)
    except (ConfigurationError, OSError):
        return None


def _manifest_in_force(settings: Settings) -> Manifest | None:
    from node.cli import open_database

    with open_database(settings) as db, db.read() as session:
        found: Manifest | None = _federation(settings).manifest_txn(session=session)
    return found


def _key_state(key: SigningKey, manifest: Manifest | None, signer: SigningKey | None) -> str:
    if manifest is None:
        return "no manifest loaded"
    entry = manifest.key(key.kid)
    if entry is None or entry.key.jwk.x != key.public_jwk().x:
        return f"not in manifest v{manifest.version}"
    if signer is not None and signer.kid == key.kid:
        return f"signing (manifest v{manifest.version})"
    if entry.key.valid_at(unix_seconds(CLOCK.now())):
        return f"valid (manifest v{manifest.version})"
    return f"listed but not valid now (manifest v{manifest.version})"


def cmd_keys_show(args: argparse.Namespace, settings: Settings) -> int:
    """Print this node's public signing keys (JWK JSON, a tab, its state), oldest first."""
    from node.services import identity

    keys = identity.load_signing_keys(settings.keys_dir, node_id=settings.node_id)
    if not keys:
        raise ConfigurationError("this node has no signing key; run `konsort init`")
    manifest = _manifest_in_force(settings)
    signer = (
        identity.current_signer(keys, manifest, now=unix_seconds(CLOCK.now())) if manifest else None
    )
    for key in keys:
        print(f"{jwk_line(key)}\t{_key_state(key, manifest, signer)}")
    return 0


def cmd_keys_rotate(args: argparse.Namespace, settings: Settings) -> int:
    """Make a new signing key; it signs once a manifest lists it (steward add-key)."""
    from node.services import identity

    if not identity.load_signing_keys(settings.keys_dir, node_id=settings.node_id):
        raise ConfigurationError(f"no signing key in {settings.keys_dir}; run `konsort init`")
    key = identity.create_signing_key(settings.keys_dir, node_id=settings.node_id, now=CLOCK.now())
    print(f"wrote signing key {key.kid} (mode 0600); give this public key to the steward:")
    print(jwk_line(key))
    print("the older key keeps signing until a manifest lists this one")
    return 0


def print_manifest(manifest: Manifest) -> None:
    print(
        f"manifest version {manifest.version} of {manifest.consortium}"
        f" (issued {time_text(manifest.issued_at)}; point values in"
        f" {manifest.settlement_currency} minor units, exponent {manifest.minor_unit_exponent})"
    )
    for m in manifest.members:
        print(f"{m.node_id}\t{m.kind}\t{m.status}\t{m.point_value}\t{m.endpoint}")
        for key in m.keys:
            revoked = f", revoked {time_text(key.revoked_at)}" if key.revoked_at is not None else ""
            window = f"{time_text(key.not_before)} .. {time_text(key.not_after)}"
            print(f"\tkey {key.kid}\t{window}{revoked}")


# -- the node's consortium -----------------------------------------------------------


def cmd_consortium_pin_steward(args: argparse.Namespace, settings: Settings) -> int:
    """Pin the steward's public key: only manifests it signed are loaded."""
    from node.services import identity

    jwk = read_jwk(args.jwk_file)
    pinned = identity.pinned_steward_keys(settings.keys_dir)
    if pinned and pinned[0] == jwk:
        print(f"steward key {jwk.kid} already pinned")
        return 0
    if pinned:
        raise ConfigurationError(
            f"another steward key ({pinned[0].kid}) is pinned in {settings.keys_dir};"
            " remove steward.jwk there to pin a new one"
        )
    path = identity.pin_steward_key(settings.keys_dir, jwk)
    print(f"pinned steward key {jwk.kid} in {path}")
    return 0


def _fetch(url: str) -> str:
    import httpx

    try:
        response = httpx.get(url, timeout=FETCH_TIMEOUT_SECONDS)
    except httpx.HTTPError as exc:
        raise ConfigurationError(f"cannot fetch {url}: {exc}") from None
    if response.status_code != 200:
        raise ConfigurationError(f"cannot fetch {url}: HTTP {response.status_code}")
    if len(response.content) > MAX_MANIFEST_BYTES:
        raise ValidationFailed(f"{url} is larger than {MAX_MANIFEST_BYTES} bytes")
    return response.text


def cmd_consortium_load(args: argparse.Namespace, settings: Settings) -> int:
    """Verify a signed manifest (file or http(s) URL) and keep it if it is newer."""
    from node.cli import open_database
    from node.services.federation import load_manifest

    source: str = args.source
    if source.startswith(("http://", "https://")):
        token = _fetch(source)
    else:
        token = read_text(Path(source), "manifest")
    with open_database(settings) as db:
        before = _held_version(db)
        manifest = load_manifest(db, keys_dir=settings.keys_dir, token=token, now=CLOCK.now())
    if before == manifest.version:
        print(f"manifest version {manifest.version} already in force")
    else:
        print(f"manifest version {manifest.version} of {manifest.consortium} in force")
    for m in manifest.members:
        print(f"{m.node_id}\t{m.kind}\t{m.status}\t{m.point_value}\t{m.endpoint}")
    return 0


def _held_version(db: Any) -> int | None:
    from node.store import federation as store

    with db.read() as session:
        return store.latest_manifest_version(session=session)


def cmd_consortium_show(args: argparse.Namespace, settings: Settings) -> int:
    """Print the manifest in force: members, kinds, endpoints, point values, status."""
    manifest = _manifest_in_force(settings)
    if manifest is None:
        raise ConfigurationError("no consortium manifest loaded (konsort consortium load)")
    print_manifest(manifest)
    return 0


def cmd_federation_status(args: argparse.Namespace, settings: Settings) -> int:
    """The manifest version and the outbox per partner (queued, retrying, answered)."""
    from node.cli import open_database
    from node.store import federation as store

    with open_database(settings) as db, db.read() as session:
        version = store.latest_manifest_version(session=session)
        peers = store.outbox_summary(session=session)
    print(f"node {settings.node_id}; manifest version {version if version else 'none'}")
    print("partner\tqueued\tretrying\tanswered\toldest queued\tlast error")
    for peer in peers:
        oldest = isoformat(peer.oldest_pending) if peer.oldest_pending else "-"
        print(
            f"{peer.destination}\t{peer.pending}\t{peer.retrying}\t{peer.answered}"
            f"\t{oldest}\t{peer.last_error or '-'}"
        )
    return 0


def add_federation_commands(commands: Any, add: Callable[..., argparse.ArgumentParser]) -> None:
    keys = commands.add_parser("keys", help="this node's signing keys").add_subparsers(
        dest="keys_command", required=True, metavar="KEYS_COMMAND"
    )
    add(keys, "show", cmd_keys_show)
    add(keys, "rotate", cmd_keys_rotate)

    consortium = commands.add_parser(
        "consortium", help="the consortium manifest this node follows"
    ).add_subparsers(dest="consortium_command", required=True, metavar="CONSORTIUM_COMMAND")
    add(consortium, "pin-steward", cmd_consortium_pin_steward).add_argument("jwk_file")
    add(consortium, "load", cmd_consortium_load).add_argument("source", metavar="FILE_OR_URL")
    add(consortium, "show", cmd_consortium_show)

    federation = commands.add_parser("federation", help="messages to partners").add_subparsers(
        dest="federation_command", required=True, metavar="FEDERATION_COMMAND"
    )
    add(federation, "status", cmd_federation_status)
