"""Scratch PostgreSQL databases: created with a random name, always dropped after."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit


def libpq_url(url: str) -> str:
    """``postgresql+psycopg://...`` (SQLAlchemy's spelling) as a plain libpq URL."""
    scheme, _, rest = url.partition("://")
    return f"postgresql://{rest}" if scheme.startswith("postgres") else url


def sqlalchemy_url(url: str) -> str:
    """A PostgreSQL URL in the spelling the node's SQLAlchemy engine wants."""
    return "postgresql+psycopg://" + libpq_url(url).partition("://")[2]


def postgres_unreachable(admin_url: str) -> str | None:
    """Why PostgreSQL at ``admin_url`` cannot be used, or None when it can."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed"
    try:
        with psycopg.connect(libpq_url(admin_url), connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


@contextmanager
def scratch_postgres(admin_url: str, *, label: str) -> Iterator[str]:
    """Create an empty database next to ``admin_url``'s; yields its libpq URL."""
    import psycopg
    from psycopg import sql

    name = f"konsort_bench_{label}_{uuid.uuid4().hex[:8]}"
    admin = libpq_url(admin_url)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        parts = urlsplit(admin)
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
