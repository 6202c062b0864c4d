"""The `konsort` command. Every command is documented in docs/operations.md."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import tomli_w
from sqlalchemy.exc import OperationalError

from node.cli_admin import add_admin_commands
from node.cli_audit import add_audit_commands
from node.cli_backup import add_backup_commands
from node.cli_consent import add_consent_commands
from node.cli_container import add_container_commands
from node.cli_dev import add_dev_commands
from node.cli_federation import add_federation_commands, ensure_signing_key
from node.cli_privacy import add_privacy_commands
from node.cli_program import add_program_commands
from node.cli_requests import add_requests_commands
from node.cli_retention import add_retention_commands
from node.cli_settlement import add_settlement_commands
from node.cli_steward import add_steward_commands
from node.clock import SystemClock
from node.db import Database
from node.errors import ConfigurationError, KonsortError
from node.secrets import MASTER_KEY_FILE, NodeSecrets, write_secret_file
from node.settings import CONFIG_NAME, Settings, load_settings

Command = Callable[[argparse.Namespace, Settings], int]


def _settings(args: argparse.Namespace, **extra: Any) -> Settings:
    overrides: dict[str, Any] = {k: v for k, v in extra.items() if v is not None}
    if args.data_dir is not None:
        overrides["data_dir"] = Path(args.data_dir)
    config = Path(args.config) if args.config else None
    if config is None and not os.environ.get("KONSORT_CONFIG"):
        data_dir = Path(args.data_dir or os.environ.get("KONSORT_DATA_DIR") or Settings().data_dir)
        if (data_dir / CONFIG_NAME).exists():
            config = data_dir / CONFIG_NAME
    return load_settings(config, **overrides)


@contextmanager
def open_database(
    settings: Settings, *, check: bool = True, create: bool = False
) -> Iterator[Database]:
    """The node's database, refusing clearly when `konsort init` has not run."""
    from node.migrate import check_schema

    missing = settings.is_sqlite and not (settings.data_dir / "konsort.db").exists()
    if missing and not settings.database_url and not create:
        raise ConfigurationError(
            f"no database in {settings.data_dir}; run `konsort init` there first"
        )
    db = Database(settings.resolved_database_url)
    try:
        if check:
            check_schema(db.engine)
        yield db
    except OperationalError as exc:
        raise ConfigurationError(f"cannot reach the database: {exc.orig}") from None
    finally:
        db.dispose()


def cmd_init(args: argparse.Namespace, settings: Settings) -> int:
    """Create the data directory, the master key, a signing key, a config file and the schema."""
    from node.migrate import upgrade

    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    key_path = settings.keys_dir / MASTER_KEY_FILE
    if key_path.exists():
        print(f"master key already present at {key_path}")
    else:
        NodeSecrets.generate().save(settings.keys_dir)
        print(f"wrote master key {key_path} (mode 0600; back it up, losing it loses all data)")
    ensure_signing_key(settings)
    config = settings.data_dir / CONFIG_NAME
    if not config.exists():
        chosen = settings.model_dump(
            include={
                "node_id",
                "display_name",
                "currency",
                "points_per_currency_unit",
                "point_expiry_days",
                *(["database_url"] if settings.database_url else []),
            }
        )
        # The file may hold a database password: private from the start.
        write_secret_file(config, tomli_w.dumps(chosen).encode())
        print(f"wrote {config} (mode 0600)")
    with open_database(settings, check=False, create=True) as db:
        revision = upgrade(db.engine)
    print(f"database ready at schema {revision}")
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Run the node under uvicorn."""
    import uvicorn

    from node.logs import configure_logging

    workers = args.workers or settings.workers
    if workers > 1 and settings.is_sqlite:
        raise ConfigurationError(
            "several workers need PostgreSQL; SQLite serves from one process", field="workers"
        )
    with open_database(settings):  # refuse to start on a missing or foreign schema
        pass
    # Workers rebuild the settings from the environment, so hand everything over.
    for name, value in settings.model_dump(mode="json").items():
        os.environ[f"KONSORT_{name.upper()}"] = str(value)
    os.environ.pop("KONSORT_CONFIG", None)
    # --host/--port win, so the node's links (public_base_url's default) name them.
    for name, value in (("HOST", args.host), ("PORT", args.port)):
        if value:
            os.environ[f"KONSORT_{name}"] = str(value)
    configure_logging(settings.log_level)
    uvicorn.run(
        "node.asgi:app_factory",
        factory=True,
        host=args.host or settings.host,
        port=args.port or settings.port,
        workers=workers,
        access_log=False,
        server_header=False,
        log_config=None,
        timeout_graceful_shutdown=20,
    )
    return 0


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    """Migrate the database to this version's schema (safe to run twice)."""
    from node.migrate import upgrade

    with open_database(settings, check=False) as db:
        print(f"database at schema {upgrade(db.engine)}")
    return 0


def cmd_db_current(args: argparse.Namespace, settings: Settings) -> int:
    """Show the schema revision of the database and of this code."""
    from node.migrate import current_revision, head_revision

    with open_database(settings, check=False) as db:
        print(f"database: {current_revision(db.engine) or 'empty'}; code: {head_revision()}")
    return 0


def cmd_apikey_create(args: argparse.Namespace, settings: Settings) -> int:
    """Create an operator API key and print it once."""
    from node.services.apikeys import create_api_key

    with open_database(settings) as db:
        created = create_api_key(db, name=args.name, now=SystemClock().now())
    print(f"{created.id}\t{created.name}")
    print(created.token)
    print("store this key now: it is shown only once", file=sys.stderr)
    return 0


def cmd_apikey_list(args: argparse.Namespace, settings: Settings) -> int:
    """List API keys (ids and names; the secrets are not stored)."""
    from node.services.apikeys import list_api_keys

    with open_database(settings) as db:
        for key in list_api_keys(db):
            state = f"revoked {key.revoked_at.isoformat()}" if key.revoked_at else "active"
            print(f"{key.id}\t{key.name}\t{key.created_at.isoformat()}\t{state}")
    return 0


def cmd_apikey_revoke(args: argparse.Namespace, settings: Settings) -> int:
    """Revoke an API key at once."""
    from node.services.apikeys import revoke_api_key

    with open_database(settings) as db:
        revoke_api_key(db, key_id=args.key_id, now=SystemClock().now())
    print(f"revoked {args.key_id}")
    return 0


def cmd_ledger_verify(args: argparse.Namespace, settings: Settings) -> int:
    """Check every ledger invariant; exit 1 on any violation."""
    from node.services.verification import verify_ledger

    with open_database(settings) as db:
        report = verify_ledger(db)
    if args.json:
        print(
            json.dumps({"ok": report.ok, "violations": report.violations, "totals": report.totals})
        )
    else:
        for line in report.violations:
            print(f"VIOLATION {line}")
        for name, total in sorted(report.totals.items()):
            print(f"{name:20} {total:>14}")
        print("ledger OK" if report.ok else f"{len(report.violations)} violation(s)")
    return 0 if report.ok else 1


def cmd_ledger_expire(args: argparse.Namespace, settings: Settings) -> int:
    """Expire points past their expiry now (the node also does this on a schedule)."""
    from node.services.ledger import expire_due_points

    with open_database(settings) as db:
        report = expire_due_points(db, now=SystemClock().now())
    print(f"expired {report.points} points of {report.customers} customers")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="konsort", description="Run a Konsort loyalty node.")
    parser.add_argument("--config", help=f"TOML settings file (default <data-dir>/{CONFIG_NAME})")
    parser.add_argument("--data-dir", help="data directory (default ./data)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(group: Any, name: str, func: Command, **kwargs: Any) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = group.add_parser(name, help=func.__doc__, **kwargs)
        sub.set_defaults(func=func)
        return sub

    init = add(commands, "init", cmd_init)
    init.add_argument("--node-id", help="this node's id in the consortium, e.g. cafe")
    init.add_argument("--display-name", help="the business's name")
    init.add_argument("--database-url", help="PostgreSQL URL (default SQLite in the data dir)")
    serve = add(commands, "serve", cmd_serve)
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int)

    db = commands.add_parser("db", help="database schema").add_subparsers(
        dest="db_command", required=True, metavar="DB_COMMAND"
    )
    add(db, "upgrade", cmd_db_upgrade)
    add(db, "current", cmd_db_current)

    apikey = commands.add_parser("apikey", help="operator API keys").add_subparsers(
        dest="apikey_command", required=True, metavar="APIKEY_COMMAND"
    )
    create = add(apikey, "create", cmd_apikey_create)
    create.add_argument("--name", required=True, help="who uses it, e.g. 'till 1'")
    add(apikey, "list", cmd_apikey_list)
    revoke = add(apikey, "revoke", cmd_apikey_revoke)
    revoke.add_argument("key_id")

    ledger = commands.add_parser("ledger", help="the points ledger").add_subparsers(
        dest="ledger_command", required=True, metavar="LEDGER_COMMAND"
    )
    verify = add(ledger, "verify", cmd_ledger_verify)
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    add(ledger, "expire", cmd_ledger_expire)
    add_program_commands(commands, add)
    add_federation_commands(commands, add)
    add_steward_commands(commands, add)
    add_settlement_commands(commands, add)
    add_retention_commands(commands, add)
    add_audit_commands(commands, add)
    add_requests_commands(commands, add)
    add_consent_commands(commands, add)
    add_privacy_commands(commands, add)
    add_admin_commands(commands, add)
    add_container_commands(commands, add)
    add_backup_commands(commands, add)
    add_dev_commands(commands, add)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    extra: dict[str, Any] = {}
    if args.command == "init":
        extra = {
            "node_id": args.node_id,
            "display_name": args.display_name,
            "database_url": args.database_url,
        }
    try:
        settings = _settings(args, **extra)
        return int(args.func(args, settings))
    except KonsortError as exc:
        print(f"konsort: {exc.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
