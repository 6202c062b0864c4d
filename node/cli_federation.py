"""`konsort keys|steward|consortium|federation ...`: the node's identity in the
consortium, the steward's manifest, and loading that manifest into a node.

The steward works in a directory of its own (``--steward-dir``, default
``./steward``), no node or database needed:

==================  ===========================================================
``steward.pem``     the steward's private key (mode 0600)
``steward.jwk``     its public JWK: every node pins it (``consortium pin-steward``)
``consortium.json`` consortium id, settlement currency and exponent
``manifest.json``   the draft: the last manifest as JSON, edited by each command
``manifest.jws``    the last version, signed: what nodes load
``versions/N.jws``  every signed version
==================  ===========================================================

Each steward edit writes and signs the next version at once (``issued_at``
now); the first version is 1. Only public keys are ever printed.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from node.clock import Clock, SystemClock, isoformat
from node.errors import ConfigurationError, ValidationFailed
from node.secrets import write_secret_file
from node.settings import Settings
from protocol import (
    Manifest,
    Member,
    MemberKey,
    PublicJwk,
    SigningKey,
    generate_private_key,
    load_private_key_pem,
    private_key_to_pem,
    rotate_key,
    set_member_status,
    sign_manifest,
    with_member,
)

Command = Callable[[argparse.Namespace, Settings], int]

#: The clock every command here reads (tests swap in a ManualClock).
CLOCK: Clock = SystemClock()
DAY = 86_400
MAX_MANIFEST_BYTES = 1_000_000
FETCH_TIMEOUT_SECONDS = 10.0


def _unix(moment: datetime) -> int:
    return int(moment.timestamp())


def _time(seconds: int) -> str:
    from node.services.federation import from_unix

    return isoformat(from_unix(seconds))


def _invalid(exc: ValidationError, what: str) -> ValidationFailed:
    error = exc.errors(include_url=False)[0]
    where = "".join(f".{part}" if i else f": {part}" for i, part in enumerate(error["loc"]))
    return ValidationFailed(f"{what}{where}: {error['msg']}")


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot read {what} {path}: {exc.strerror}") from None


def _write_public(path: Path, text: str) -> None:
    """Replace ``path`` whole (a reader never sees half a file)."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def read_jwk(value: str) -> PublicJwk:
    """A public JWK given as JSON, or as a file holding it: its first line that starts
    with ``{`` (so the output of `keys show`, `keys rotate` or `init` will do)."""
    text = value if value.lstrip().startswith("{") else _read_text(Path(value), "JWK file")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    first = next((line for line in lines if line.startswith("{")), lines[0] if lines else "")
    try:
        return PublicJwk.model_validate_json(first.split("\t")[0])
    except ValidationError as exc:
        raise _invalid(exc, "jwk") from None


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
    if entry.key.valid_at(_unix(CLOCK.now())):
        return f"valid (manifest v{manifest.version})"
    return f"listed but not valid now (manifest v{manifest.version})"


def cmd_keys_show(args: argparse.Namespace, settings: Settings) -> int:
    """Print this node's public signing keys (JWK JSON, a tab, its state), oldest first."""
    from node.services import identity

    keys = identity.load_signing_keys(settings.keys_dir, node_id=settings.node_id)
    if not keys:
        raise ConfigurationError("this node has no signing key; run `konsort init`")
    manifest = _manifest_in_force(settings)
    signer = identity.current_signer(keys, manifest, now=_unix(CLOCK.now())) if manifest else None
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


# -- the steward -------------------------------------------------------------------


def _steward_dir(args: argparse.Namespace) -> Path:
    return Path(args.steward_dir)


def _steward_key(directory: Path) -> SigningKey:
    try:
        jwk = PublicJwk.model_validate_json(_read_text(directory / "steward.jwk", "steward key"))
        private = load_private_key_pem((directory / "steward.pem").read_bytes())
    except (OSError, ValueError) as exc:
        raise ConfigurationError(
            f"no usable steward key in {directory} (konsort steward init): {exc}"
        ) from None
    return SigningKey(jwk.kid, private)


def _consortium(directory: Path) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(_read_text(directory / "consortium.json", "consortium file"))
    return found


def _draft(directory: Path) -> Manifest | None:
    path = directory / "manifest.json"
    if not path.exists():
        return None
    try:
        return Manifest.model_validate_json(_read_text(path, "manifest draft"))
    except ValidationError as exc:
        raise _invalid(exc, str(path)) from None


def _require_draft(directory: Path) -> Manifest:
    draft = _draft(directory)
    if draft is None:
        raise ConfigurationError(f"no manifest in {directory} yet (konsort steward add-member)")
    return draft


def _publish(directory: Path, manifest: Manifest) -> None:
    """Sign ``manifest`` and write it as the draft, the current and a kept version."""
    token = sign_manifest(manifest, steward=_steward_key(directory))
    (directory / "versions").mkdir(exist_ok=True)
    _write_public(directory / "versions" / f"{manifest.version}.jws", token + "\n")
    _write_public(directory / "manifest.json", manifest.model_dump_json(indent=2) + "\n")
    _write_public(directory / "manifest.jws", token + "\n")
    print(f"signed manifest version {manifest.version}: {directory / 'manifest.jws'}")


def _member_key(jwk: PublicJwk, *, valid_days: int) -> MemberKey:
    start = _unix(CLOCK.now())
    if valid_days < 1:
        raise ValidationFailed("--valid-days must be at least 1", field="valid_days")
    return MemberKey(jwk=jwk, not_before=start, not_after=start + valid_days * DAY, revoked_at=None)


def cmd_steward_init(args: argparse.Namespace, settings: Settings) -> int:
    """Create a steward directory: its key pair and the consortium's currency."""
    from node.services.identity import new_key_name

    directory = _steward_dir(args)
    if (directory / "steward.pem").exists():
        raise ConfigurationError(f"{directory} already holds a steward key")
    consortium = {
        "consortium": args.consortium,
        "settlement_currency": args.currency,
        "minor_unit_exponent": args.exponent,
    }
    try:  # the same checks a manifest will make, before anything is written
        Manifest.model_validate({**consortium, "version": 1, "issued_at": 0, "members": []})
    except ValidationError as exc:
        problems = [e for e in exc.errors(include_url=False) if e["loc"][0] != "members"]
        if problems:
            where = ".".join(str(part) for part in problems[0]["loc"])
            raise ValidationFailed(f"{where}: {problems[0]['msg']}") from None
    private = generate_private_key()
    key = SigningKey(f"steward:{new_key_name(CLOCK.now())}", private)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_secret_file(directory / "steward.pem", private_key_to_pem(private))
    _write_public(directory / "steward.jwk", jwk_line(key) + "\n")
    _write_public(directory / "consortium.json", json.dumps(consortium, indent=2) + "\n")
    print(f"wrote steward key {key.kid} to {directory / 'steward.pem'} (mode 0600)")
    print(f"every node pins {directory / 'steward.jwk'} (konsort consortium pin-steward):")
    print(jwk_line(key))
    return 0


def cmd_steward_add_member(args: argparse.Namespace, settings: Settings) -> int:
    """Admit a member (or replace it) and sign the next manifest version."""
    directory = _steward_dir(args)
    _steward_key(directory)
    try:
        member = Member(
            node_id=args.node_id,
            display_name=args.display_name,
            kind=args.kind,
            endpoint=args.endpoint,
            point_value=args.point_value,
            status="active",
            keys=[_member_key(read_jwk(args.jwk), valid_days=args.valid_days)],
        )
    except ValidationError as exc:
        raise _invalid(exc, "member") from None
    draft = _draft(directory)
    issued_at = _unix(CLOCK.now())
    if draft is None:
        try:
            manifest = Manifest.model_validate(
                {
                    **_consortium(directory),
                    "version": 1,
                    "issued_at": issued_at,
                    "members": [member.model_dump()],
                }
            )
        except ValidationError as exc:
            raise _invalid(exc, "manifest") from None
    else:
        manifest = with_member(draft, member, issued_at=issued_at)
    _publish(directory, manifest)
    return 0


def _set_status(args: argparse.Namespace, status: Literal["active", "suspended"]) -> int:
    directory = _steward_dir(args)
    draft = _require_draft(directory)
    member = draft.member(args.node_id)
    if member is None:
        raise ValidationFailed(f"{args.node_id!r} is not a member", field="node_id")
    if member.status == status:
        raise ValidationFailed(f"{args.node_id} is {status} already", field="node_id")
    issued_at = _unix(CLOCK.now())
    _publish(directory, set_member_status(draft, args.node_id, status, issued_at=issued_at))
    return 0


def cmd_steward_suspend(args: argparse.Namespace, settings: Settings) -> int:
    """Suspend a member (peers refuse its messages) and sign the next version."""
    return _set_status(args, "suspended")


def cmd_steward_activate(args: argparse.Namespace, settings: Settings) -> int:
    """Reinstate a suspended member and sign the next version."""
    return _set_status(args, "active")


def cmd_steward_add_key(args: argparse.Namespace, settings: Settings) -> int:
    """Add a key to a member (rotation) and sign the next version."""
    directory = _steward_dir(args)
    draft = _require_draft(directory)
    member = draft.member(args.node_id)
    if member is None:
        raise ValidationFailed(f"{args.node_id!r} is not a member", field="node_id")
    try:
        new_key = _member_key(read_jwk(args.jwk), valid_days=args.valid_days)
    except ValidationError as exc:
        raise _invalid(exc, "jwk") from None
    if any(key.kid == new_key.kid for key in member.keys):
        raise ValidationFailed(f"{args.node_id} already has key {new_key.kid}", field="jwk")
    issued_at = _unix(CLOCK.now())
    try:
        if args.replaces:
            if args.replaces not in {key.kid for key in member.keys}:
                raise ValidationFailed(
                    f"{args.node_id} has no key {args.replaces}", field="replaces"
                )
            old_not_after = issued_at + args.overlap_days * DAY
            manifest = rotate_key(
                draft,
                new_key,
                old_kid=args.replaces,
                old_not_after=old_not_after,
                issued_at=issued_at,
            )
        else:
            keys = sorted([*member.keys, new_key], key=lambda key: key.kid)
            updated = Member.model_validate({**member.model_dump(), "keys": keys})
            manifest = with_member(draft, updated, issued_at=issued_at)
    except ValidationError as exc:
        raise _invalid(exc, "member") from None
    except ValueError as exc:
        raise ValidationFailed(str(exc)) from None
    _publish(directory, manifest)
    return 0


def print_manifest(manifest: Manifest) -> None:
    print(
        f"manifest version {manifest.version} of {manifest.consortium}"
        f" (issued {_time(manifest.issued_at)}; point values in"
        f" {manifest.settlement_currency} minor units, exponent {manifest.minor_unit_exponent})"
    )
    for m in manifest.members:
        print(f"{m.node_id}\t{m.kind}\t{m.status}\t{m.point_value}\t{m.endpoint}")
        for key in m.keys:
            revoked = f", revoked {_time(key.revoked_at)}" if key.revoked_at is not None else ""
            print(f"\tkey {key.kid}\t{_time(key.not_before)} .. {_time(key.not_after)}{revoked}")


def cmd_steward_show(args: argparse.Namespace, settings: Settings) -> int:
    """Print the draft: version, members, point values, keys and their validity."""
    print_manifest(_require_draft(_steward_dir(args)))
    return 0


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
        token = _read_text(Path(source), "manifest")
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

    steward = commands.add_parser(
        "steward", help="the consortium steward's manifest (no node needed)"
    ).add_subparsers(dest="steward_command", required=True, metavar="STEWARD_COMMAND")

    def steward_command(name: str, func: Command) -> argparse.ArgumentParser:
        sub = add(steward, name, func)
        sub.add_argument("--steward-dir", default="steward", help="default ./steward")
        return sub

    init = steward_command("init", cmd_steward_init)
    init.add_argument("--consortium", required=True, help="the consortium's id")
    init.add_argument("--currency", required=True, help="settlement currency, e.g. DKK")
    init.add_argument("--exponent", type=int, required=True, help="minor unit exponent, e.g. 2")
    member = steward_command("add-member", cmd_steward_add_member)
    member.add_argument("--node-id", required=True)
    member.add_argument("--display-name", required=True)
    member.add_argument("--kind", required=True, choices=["business", "charity"])
    member.add_argument("--endpoint", required=True, help="the node's base URL")
    member.add_argument("--point-value", type=int, required=True, help="minor units per point")
    member.add_argument("--jwk", required=True, help="the node's public JWK: JSON or a file")
    member.add_argument("--valid-days", type=int, default=365)
    for name, func in (("suspend", cmd_steward_suspend), ("activate", cmd_steward_activate)):
        steward_command(name, func).add_argument("node_id")
    add_key = steward_command("add-key", cmd_steward_add_key)
    add_key.add_argument("node_id")
    add_key.add_argument("--jwk", required=True, help="the new public JWK: JSON or a file")
    add_key.add_argument("--valid-days", type=int, default=365)
    add_key.add_argument("--replaces", help="a key id to end after --overlap-days")
    add_key.add_argument("--overlap-days", type=int, default=7)
    steward_command("show", cmd_steward_show)

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
