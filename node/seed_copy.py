"""Bulk SQL for `konsort dev seed`: COPY on PostgreSQL, executemany on SQLite.

Functions take a keyword-only ``session`` inside a transaction the caller owns
(node.seed opens one per batch of members). A batch assigns the ids other
rows point at (accounts, ledger transactions, lots), made while the previous
batch is written, so :func:`write_batch_txn` first locks those tables on
PostgreSQL (an insert elsewhere waits for the batch to commit), checks that
nothing else took an id since, and afterwards moves their sequences past the
ids it used.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from node.errors import Conflict
from node.seed_rows import ASSIGNED_IDS, TABLES, Batch
from node.store.sql import _sqlite_time, raw

#: What a timestamp column takes on SQLite (naive UTC text, as SQLAlchemy writes it).
sqlite_time = _sqlite_time


def _driver(session: Session) -> Any:
    return session.connection().connection.driver_connection


def customer_count_txn(*, session: Session) -> int:
    row = raw(session).one("SELECT COUNT(*) FROM customer")
    return int(row[0]) if row else 0


def next_ids_txn(*, session: Session) -> dict[str, int]:
    """The first free id of each table whose ids a batch assigns."""
    sql = raw(session)
    if not sql.is_sqlite:
        tables = ", ".join(ASSIGNED_IDS)
        sql.execute(f"LOCK TABLE {tables} IN SHARE ROW EXCLUSIVE MODE")
    found: dict[str, int] = {}
    for table in ASSIGNED_IDS:
        row = sql.one(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}")
        assert row is not None
        found[table] = int(row[0])
    return found


def write_batch_txn(*, session: Session, batch: Batch) -> None:
    """Insert every row of ``batch``, parents before children."""
    sql, driver = raw(session), _driver(session)
    if next_ids_txn(session=session) != batch.first_ids:
        raise Conflict(
            "something else wrote to the ledger while the node was being seeded; stop the "
            "node and seed a fresh one",
            code="seed_interrupted",
        )
    for table, columns in TABLES.items():
        rows = batch.rows[table]
        if not rows:
            continue
        names = ", ".join(columns)
        if sql.is_sqlite:
            marks = ", ".join("?" * len(columns))
            driver.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)
            continue
        with driver.cursor() as cursor, cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    if not sql.is_sqlite:
        for table, next_id in batch.end_ids().items():
            if next_id > 1:
                sql.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), ?)", (next_id - 1,)
                )


def analyze_txn(*, session: Session) -> None:
    """Fresh planner statistics after a bulk load (PostgreSQL; SQLite plans without)."""
    sql = raw(session)
    if not sql.is_sqlite:
        sql.execute("ANALYZE " + ", ".join(TABLES))
