"""`konsort admin ...`: staff accounts of the admin UI."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from typing import Any

from node.settings import Settings
from node.store.staff_models import ROLES


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise SystemExit("konsort: the passwords differ")
    return first


def cmd_admin_create_user(args: argparse.Namespace, settings: Settings) -> int:
    """Create a staff user of the admin UI (prints the TOTP provisioning URI once)."""
    from node.cli import open_database
    from node.clock import SystemClock
    from node.secrets import NodeSecrets
    from node.services import staff

    password = _read_password(args)
    with open_database(settings) as db:
        created = staff.create_user(
            db,
            node_secrets=NodeSecrets.load(settings.keys_dir),
            username=args.username,
            display_name=args.display_name or args.username,
            role=args.role,
            password=password,
            totp=args.totp,
            now=SystemClock().now(),
        )
    print(f"created {created.account.role} {created.account.username} ({created.account.id})")
    if created.totp_uri:
        print("add this to the user's authenticator app now; it is not shown again:")
        print(created.totp_uri)
    return 0


def cmd_admin_list_users(args: argparse.Namespace, settings: Settings) -> int:
    """List staff users with their roles and status."""
    from node.cli import open_database
    from node.services import staff

    with open_database(settings) as db:
        users = staff.list_users(db)
    print("username\trole\tstatus\ttotp\tid")
    for user in users:
        totp = "yes" if user.has_totp else "no"
        print(f"{user.username}\t{user.role}\t{user.status}\t{totp}\t{user.id}")
    return 0


def cmd_admin_set_role(args: argparse.Namespace, settings: Settings) -> int:
    """Change a staff user's role (ends their sessions)."""
    from node.cli import open_database
    from node.clock import SystemClock
    from node.services import staff

    with open_database(settings) as db:
        user = staff.set_role(db, username=args.username, role=args.role, now=SystemClock().now())
    print(f"{user.username} is now {user.role}; their sessions ended")
    return 0


def cmd_admin_disable_user(args: argparse.Namespace, settings: Settings) -> int:
    """Disable a staff user (ends their sessions at once)."""
    from node.cli import open_database
    from node.clock import SystemClock
    from node.services import staff

    with open_database(settings) as db:
        user = staff.disable_user(db, username=args.username, now=SystemClock().now())
    print(f"{user.username} is disabled; their sessions ended")
    return 0


def cmd_admin_set_password(args: argparse.Namespace, settings: Settings) -> int:
    """Set a staff user's password (ends their sessions)."""
    from node.cli import open_database
    from node.clock import SystemClock
    from node.services import staff

    password = _read_password(args)
    with open_database(settings) as db:
        staff.change_password(
            db, username=args.username, password=password, now=SystemClock().now()
        )
    print(f"password of {args.username} changed; their sessions ended")
    return 0


def cmd_admin_reset_totp(args: argparse.Namespace, settings: Settings) -> int:
    """Give a staff user a new TOTP second factor (prints the provisioning URI once)."""
    from node.cli import open_database
    from node.clock import SystemClock
    from node.secrets import NodeSecrets
    from node.services import staff

    with open_database(settings) as db:
        uri = staff.reset_totp(
            db,
            node_secrets=NodeSecrets.load(settings.keys_dir),
            username=args.username,
            now=SystemClock().now(),
        )
    print("add this to the user's authenticator app now; it is not shown again:")
    print(uri)
    return 0


def add_admin_commands(commands: Any, add: Callable[..., argparse.ArgumentParser]) -> None:
    group = commands.add_parser("admin", help="staff users of the admin UI").add_subparsers(
        dest="admin_command", required=True, metavar="ADMIN_COMMAND"
    )
    create = add(group, "create-user", cmd_admin_create_user)
    create.add_argument("--username", required=True)
    create.add_argument("--display-name", help="the name shown in the UI (default: username)")
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    create.add_argument("--totp", action="store_true", help="require a TOTP second factor")
    add(group, "list-users", cmd_admin_list_users)
    set_role = add(group, "set-role", cmd_admin_set_role)
    set_role.add_argument("--username", required=True)
    set_role.add_argument("--role", required=True, choices=ROLES)
    disable = add(group, "disable-user", cmd_admin_disable_user)
    disable.add_argument("--username", required=True)
    password = add(group, "set-password", cmd_admin_set_password)
    password.add_argument("--username", required=True)
    password.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    totp = add(group, "reset-totp", cmd_admin_reset_totp)
    totp.add_argument("--username", required=True)
