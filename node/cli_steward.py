"""`konsort steward ...`: the consortium steward's key and signed manifest.

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
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from node import cli_federation
from node.cli_federation import (
    DAY,
    Command,
    invalid_input,
    jwk_line,
    print_manifest,
    read_jwk,
    read_text,
    unix_seconds,
    write_public,
)
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


def _steward_dir(args: argparse.Namespace) -> Path:
    return Path(args.steward_dir)


def _steward_key(directory: Path) -> SigningKey:
    try:
        jwk = PublicJwk.model_validate_json(read_text(directory / "steward.jwk", "steward key"))
        private = load_private_key_pem((directory / "steward.pem").read_bytes())
    except (OSError, ValueError) as exc:
        raise ConfigurationError(
            f"no usable steward key in {directory} (konsort steward init): {exc}"
        ) from None
    return SigningKey(jwk.kid, private)


def _consortium(directory: Path) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(read_text(directory / "consortium.json", "consortium file"))
    return found


def _draft(directory: Path) -> Manifest | None:
    path = directory / "manifest.json"
    if not path.exists():
        return None
    try:
        return Manifest.model_validate_json(read_text(path, "manifest draft"))
    except ValidationError as exc:
        raise invalid_input(exc, str(path)) from None


def _require_draft(directory: Path) -> Manifest:
    draft = _draft(directory)
    if draft is None:
        raise ConfigurationError(f"no manifest in {directory} yet (konsort steward add-member)")
    return draft


def _publish(directory: Path, manifest: Manifest) -> None:
    """Sign ``manifest`` and write it as the draft, the current and a kept version."""
    token = sign_manifest(manifest, steward=_steward_key(directory))
    (directory / "versions").mkdir(exist_ok=True)
    write_public(directory / "versions" / f"{manifest.version}.jws", token + "\n")
    write_public(directory / "manifest.json", manifest.model_dump_json(indent=2) + "\n")
    write_public(directory / "manifest.jws", token + "\n")
    print(f"signed manifest version {manifest.version}: {directory / 'manifest.jws'}")


def _member_key(jwk: PublicJwk, *, valid_days: int) -> MemberKey:
    start = unix_seconds(cli_federation.CLOCK.now())
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
    key = SigningKey(f"steward:{new_key_name(cli_federation.CLOCK.now())}", private)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_secret_file(directory / "steward.pem", private_key_to_pem(private))
    write_public(directory / "steward.jwk", jwk_line(key) + "\n")
    write_public(directory / "consortium.json", json.dumps(consortium, indent=2) + "\n")
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
        raise invalid_input(exc, "member") from None
    draft = _draft(directory)
    issued_at = unix_seconds(cli_federation.CLOCK.now())
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
            raise invalid_input(exc, "manifest") from None
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
    issued_at = unix_seconds(cli_federation.CLOCK.now())
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
        raise invalid_input(exc, "jwk") from None
    if any(key.kid == new_key.kid for key in member.keys):
        raise ValidationFailed(f"{args.node_id} already has key {new_key.kid}", field="jwk")
    issued_at = unix_seconds(cli_federation.CLOCK.now())
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
        raise invalid_input(exc, "member") from None
    except ValueError as exc:
        raise ValidationFailed(str(exc)) from None
    _publish(directory, manifest)
    return 0


def cmd_steward_show(args: argparse.Namespace, settings: Settings) -> int:
    """Print the draft: version, members, point values, keys and their validity."""
    print_manifest(_require_draft(_steward_dir(args)))
    return 0


def add_steward_commands(commands: Any, add: Callable[..., argparse.ArgumentParser]) -> None:
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
