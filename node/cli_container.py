"""`konsort container ...`: the steps of a container deployment (docker-compose.yml).

A node in a container takes every setting from its environment (``KONSORT_*``,
docs/operations.md); the database password arrives in ``KONSORT_DATABASE_URL``
and is never written to a volume. Nodes and the steward meet in a shared
**consortium directory** (a named volume) that holds only public material:

=========================  ===================================================
``members/<node_id>.json`` a node's member card: id, display name, endpoint,
                           public JWK (written by ``container init``)
``steward.jwk``            the steward's public key (``container steward``)
``manifest.jws``           the signed manifest in force (``container steward``)
=========================  ===================================================

Every command is safe to run again, so a restarted container repeats its step:

- ``init``: `konsort init` (keys, schema) and this node's member card;
- ``steward``: the steward key on first run, then each member from its card
  with the kind and point value the steward gives it; signs a new manifest
  version only when a member changed, and publishes it;
- ``serve``: `konsort db upgrade`, pin the steward key, load the manifest,
  then `konsort serve`;
- ``healthcheck``: exit 0 when this node's ``/readyz`` answers 200 on
  loopback, else 1 (Docker's HEALTHCHECK contract).
"""

from __future__ import annotations

import argparse
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tomli_w
from pydantic import ValidationError

from node.cli_federation import Command, invalid_input, read_jwk, read_text, write_public
from node.errors import ConfigurationError, ValidationFailed
from node.secrets import write_secret_file
from node.settings import Settings
from protocol import Manifest, Member, PublicJwk

MEMBERS_DIR = "members"
STEWARD_JWK = "steward.jwk"
MANIFEST = "manifest.jws"
HEALTHCHECK_TIMEOUT_SECONDS = 5.0


def _consortium_dir(args: argparse.Namespace) -> Path:
    return Path(args.consortium_dir)


def _read_card(directory: Path, node_id: str) -> dict[str, Any]:
    path = directory / MEMBERS_DIR / f"{node_id}.json"
    if not path.exists():
        raise ConfigurationError(
            f"no member card for {node_id} in {path.parent}; has {node_id}'s init step run?"
        )
    try:
        card: dict[str, Any] = json.loads(read_text(path, "member card"))
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f"member card {path} is not JSON: {exc.msg}") from None
    return card


def cmd_container_init(args: argparse.Namespace, settings: Settings) -> int:
    """Set up this node from its environment and leave its member card for the steward."""
    from node.cli import cmd_init
    from node.services import identity
    from node.settings import CONFIG_NAME

    config = settings.data_dir / CONFIG_NAME
    if not config.exists():
        # Written before `konsort init` so that it keeps the database URL (and its
        # password) out of the volume: the environment supplies it at every start.
        settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        chosen = settings.model_dump(include={"node_id", "display_name", "currency"})
        write_secret_file(config, tomli_w.dumps(chosen).encode())
    cmd_init(args, settings)
    key = identity.load_signing_keys(settings.keys_dir, node_id=settings.node_id)[-1]
    card = {
        "node_id": settings.node_id,
        "display_name": settings.display_name,
        "endpoint": args.endpoint,
        "jwk": key.public_jwk().model_dump(),
    }
    members = _consortium_dir(args) / MEMBERS_DIR
    members.mkdir(parents=True, exist_ok=True)
    write_public(members / f"{settings.node_id}.json", json.dumps(card, indent=2) + "\n")
    print(f"wrote member card {members / settings.node_id}.json for the steward")
    return 0


def _member_spec(value: str) -> tuple[str, str, int]:
    """``NODE_ID:KIND:POINT_VALUE``, e.g. ``cafe:business:50``."""
    parts = value.split(":")
    if len(parts) != 3 or not parts[2].isdigit():
        raise ValidationFailed(
            f"--member {value!r}: expected NODE_ID:KIND:POINT_VALUE, e.g. cafe:business:50",
            field="member",
        )
    return parts[0], parts[1], int(parts[2])


def _unchanged(draft: Manifest | None, wanted: Member) -> bool:
    """The draft already lists ``wanted`` as it is, with the card's key among its keys."""
    held = draft.member(wanted.node_id) if draft is not None else None
    if held is None:
        return False
    same = ("display_name", "kind", "endpoint", "point_value", "status")
    card_key = wanted.keys[0].jwk
    return all(getattr(held, name) == getattr(wanted, name) for name in same) and any(
        key.jwk == card_key for key in held.keys
    )


def cmd_container_steward(args: argparse.Namespace, settings: Settings) -> int:
    """Admit every member from its card and publish the signed manifest (the steward job)."""
    from node import cli_steward

    steward_dir = Path(args.steward_dir)
    consortium_dir = _consortium_dir(args)
    specs = [_member_spec(value) for value in args.member]
    if not (steward_dir / "steward.pem").exists():
        cli_steward.cmd_steward_init(args, settings)
    for node_id, kind, point_value in specs:
        card = _read_card(consortium_dir, node_id)
        try:
            jwk = PublicJwk.model_validate(card.get("jwk"))
            wanted = Member.model_validate(
                {
                    "node_id": node_id,
                    "display_name": card.get("display_name"),
                    "kind": kind,
                    "endpoint": card.get("endpoint"),
                    "point_value": point_value,
                    "status": "active",
                    "keys": [cli_steward._member_key(jwk, valid_days=args.valid_days)],
                }
            )
        except ValidationError as exc:
            raise invalid_input(exc, f"member {node_id}") from None
        if _unchanged(cli_steward._draft(steward_dir), wanted):
            print(f"{node_id} is in the manifest as it is")
            continue
        member_args = argparse.Namespace(
            steward_dir=str(steward_dir),
            node_id=node_id,
            display_name=wanted.display_name,
            kind=kind,
            endpoint=wanted.endpoint,
            point_value=point_value,
            jwk=jwk.model_dump_json(),
            valid_days=args.valid_days,
        )
        cli_steward.cmd_steward_add_member(member_args, settings)
    consortium_dir.mkdir(parents=True, exist_ok=True)
    write_public(
        consortium_dir / STEWARD_JWK, read_text(steward_dir / "steward.jwk", "steward key")
    )
    write_public(consortium_dir / MANIFEST, read_text(steward_dir / "manifest.jws", "manifest"))
    print(f"published {consortium_dir / STEWARD_JWK} and {consortium_dir / MANIFEST}")
    return 0


def cmd_container_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Migrate the database, pin the steward, load the manifest, then serve."""
    from node.cli import cmd_db_upgrade, cmd_serve
    from node.cli_federation import cmd_consortium_load, cmd_consortium_pin_steward

    directory = _consortium_dir(args)
    for name in (STEWARD_JWK, MANIFEST):
        if not (directory / name).exists():
            raise ConfigurationError(f"no {name} in {directory}; has the steward job run?")
    read_jwk(str(directory / STEWARD_JWK))  # a clear error for a damaged file, before anything
    cmd_db_upgrade(args, settings)
    cmd_consortium_pin_steward(argparse.Namespace(jwk_file=str(directory / STEWARD_JWK)), settings)
    cmd_consortium_load(argparse.Namespace(source=str(directory / MANIFEST)), settings)
    return cmd_serve(argparse.Namespace(host=None, port=None, workers=None), settings)


def cmd_container_healthcheck(args: argparse.Namespace, settings: Settings) -> int:
    """Exit 0 when this node's /readyz answers 200 on loopback, 1 otherwise."""
    url = f"http://127.0.0.1:{settings.port}/readyz"
    try:
        with urllib.request.urlopen(url, timeout=HEALTHCHECK_TIMEOUT_SECONDS) as response:
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        status = exc.code
    except OSError as exc:
        print(f"{url}: {exc}")
        return 1
    print(f"{url}: {status}")
    return 0 if status == 200 else 1


def add_container_commands(commands: Any, add: Callable[..., argparse.ArgumentParser]) -> None:
    group = commands.add_parser(
        "container", help="the steps of a container deployment (docker-compose.yml)"
    ).add_subparsers(dest="container_command", required=True, metavar="CONTAINER_COMMAND")

    def with_consortium_dir(name: str, func: Command) -> argparse.ArgumentParser:
        sub = add(group, name, func)
        sub.add_argument(
            "--consortium-dir", required=True, help="the directory nodes and steward share"
        )
        return sub

    init = with_consortium_dir("init", cmd_container_init)
    init.add_argument("--endpoint", required=True, help="the URL partners reach this node at")
    steward = with_consortium_dir("steward", cmd_container_steward)
    steward.add_argument("--steward-dir", required=True, help="the steward's private directory")
    steward.add_argument("--consortium", required=True, help="the consortium's id")
    steward.add_argument("--currency", required=True, help="settlement currency, e.g. DKK")
    steward.add_argument("--exponent", type=int, required=True, help="minor unit exponent")
    steward.add_argument(
        "--member",
        action="append",
        required=True,
        metavar="NODE_ID:KIND:POINT_VALUE",
        help="a member, e.g. cafe:business:50 (repeat for each)",
    )
    steward.add_argument("--valid-days", type=int, default=365, help="key validity (365)")
    with_consortium_dir("serve", cmd_container_serve)
    add(group, "healthcheck", cmd_container_healthcheck)
