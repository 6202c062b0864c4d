"""Driver-level SQL for the hot paths, on the transaction the caller owns.

Most of the store builds statements with SQLAlchemy Core. The few statements
every earn and redemption runs are written here as plain SQL with ``?``
placeholders and sent straight to the driver, as Synapse does: on this
2-core machine a Core statement costs 50-200 µs of Python, the driver call
3 µs, and an earn runs about eight of them inside the one writer thread
that SQLite allows (docs/architecture.md, "Driver-level SQL on the hot paths").

For PostgreSQL the placeholders become ``%s``. Values must already be in
the driver's form: :meth:`RawSQL.time` turns an aware datetime into what the
column type stores (naive UTC text on SQLite, as SQLAlchemy writes it).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlmodel import Session


@lru_cache(maxsize=64)
def _sqlite_time(moment: datetime) -> str:
    """The text SQLAlchemy's SQLite DateTime stores (one request reuses one ``now``)."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


@lru_cache(maxsize=256)
def _for_postgresql(statement: str) -> str:
    return statement.replace("?", "%s")


def raw(session: Session) -> RawSQL:
    """The session's driver-level handle (made once per session)."""
    found = session.info.get("konsort_raw")
    if found is None:
        found = session.info["konsort_raw"] = RawSQL(session)
    return found


@lru_cache(maxsize=4096)
def _parse_sqlite_time(text: str) -> datetime:
    """A SQLite timestamp as an aware UTC datetime (a member's rows repeat their times)."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class RawSQL:
    __slots__ = ("_driver", "_driver_error", "cache", "is_sqlite")

    def __init__(self, session: Session) -> None:
        connection = session.connection()
        self.is_sqlite = connection.dialect.name == "sqlite"
        self._driver: Any = connection.connection.driver_connection
        self._driver_error: type[Exception] = connection.dialect.loaded_dbapi.Error
        #: Kept with the database connection across transactions (SQLAlchemy's
        #: ``Connection.info``): for what never changes once committed, such as a
        #: program version or a permanent account's id.
        self.cache: dict[str, Any] = connection.info

    def execute(self, statement: str, params: tuple[Any, ...] = ()) -> Any:
        if not self.is_sqlite:
            statement = _for_postgresql(statement)
        try:
            return self._driver.execute(statement, params)
        except self._driver_error as exc:
            # Raise what SQLAlchemy would (IntegrityError, OperationalError...).
            raise DBAPIError.instance(
                statement, params, exc, self._driver_error, hide_parameters=True
            ) from exc

    def one(self, statement: str, params: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = self.execute(statement, params).fetchone()
        return row

    def all(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = self.execute(statement, params).fetchall()
        return rows

    def parse_time(self, value: Any) -> datetime:
        """A timestamp column as read by the driver, as an aware UTC datetime."""
        if isinstance(value, str):
            return _parse_sqlite_time(value)
        assert isinstance(value, datetime)
        return value.astimezone(UTC)

    def time(self, moment: datetime | None) -> Any:
        if moment is None:
            return None
        if self.is_sqlite:
            return _sqlite_time(moment)
        return moment
