"""The ceiling: what this machine does with no Konsort code in the way.

A bare Starlette app under uvicorn, started exactly as ``konsort serve`` starts
the node (one worker; uvicorn's defaults pick uvloop and httptools; no access
log), with two endpoints:

* ``GET /hello`` answers a constant. Its row is the most the server and the
  load generator manage together on this machine: the node's rows must sit
  well below it for the generator not to be the limit.
* ``POST /txn`` reads the body, verifies nothing and writes one transaction of
  two rows, run in Starlette's thread pool as the node runs its services. On
  SQLite it is the node's recipe (WAL, ``synchronous=FULL``, ``BEGIN
  IMMEDIATE``, writers queued on one lock), so each commit is fsynced; on
  PostgreSQL it is a plain transaction on a connection per thread. The node's
  write rows are reported as a share of this row.

``python -m bench.ceiling --port P --database URL`` serves it;
:func:`run` adds its rows to the bench.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Protocol

from bench.databases import scratch_postgres
from bench.harness import Bench
from bench.load import LoadSpec
from bench.processes import HOST, REPO_ROOT, free_port, serving

_OK = b'{"status":"ok"}'
_INSERT = "INSERT INTO ceiling_entry (txn, amount, created_at) VALUES ({p}, {p}, {p})"
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS ceiling_entry ("
    " id {id} PRIMARY KEY, txn VARCHAR(200) NOT NULL,"
    " amount BIGINT NOT NULL, created_at VARCHAR(40) NOT NULL)"
)


class PairWriter(Protocol):
    def write(self, key: str, amount: int) -> None: ...


class SqlitePairs:
    """Two-row transactions on SQLite, the way node.db writes."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connection().execute(_SCHEMA.format(id="INTEGER"))

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self._path, isolation_level=None, timeout=30)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
            self._local.connection = connection
        return connection

    def write(self, key: str, amount: int) -> None:
        connection = self._connection()
        now = datetime.now(UTC).isoformat()
        with self._lock:
            connection.execute("BEGIN IMMEDIATE")
            try:
                connection.executemany(
                    _INSERT.format(p="?"), [(key, -amount, now), (key, amount, now)]
                )
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise


class PostgresPairs:
    """Two-row transactions on PostgreSQL, one connection per thread."""

    def __init__(self, url: str) -> None:
        import psycopg

        self._url = url
        self._local = threading.local()
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(_SCHEMA.format(id="BIGSERIAL"))

    def write(self, key: str, amount: int) -> None:
        import psycopg

        connection: Any = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = psycopg.connect(self._url)
        now = datetime.now(UTC).isoformat()
        with connection.transaction(), connection.cursor() as cursor:
            cursor.executemany(_INSERT.format(p="%s"), [(key, -amount, now), (key, amount, now)])


def create_app(pairs: PairWriter) -> Any:
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def hello(request: Request) -> Response:
        return Response(_OK, media_type="application/json")

    async def txn(request: Request) -> Response:
        await request.body()
        key = request.headers.get("idempotency-key") or uuid.uuid4().hex
        await run_in_threadpool(pairs.write, key, 1)
        return Response(_OK, status_code=201, media_type="application/json")

    return Starlette(routes=[Route("/hello", hello), Route("/txn", txn, methods=["POST"])])


def main(argv: list[str]) -> int:
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m bench.ceiling")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database", required=True, help="a SQLite file path or postgresql:// URL")
    args = parser.parse_args(argv)
    is_postgres = args.database.startswith("postgres")
    pairs = PostgresPairs(args.database) if is_postgres else SqlitePairs(args.database)
    # The same options as node.cli.cmd_serve.
    uvicorn.run(
        create_app(pairs),
        host=HOST,
        port=args.port,
        workers=1,
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=20,
    )
    return 0


# --- the rows -------------------------------------------------------------------------------

#: Request shape shared with the node's write rows, so HTTP parsing costs the same.
WRITE_HEADERS = {"Authorization": "Bearer ceiling", "Content-Type": "application/json"}
WRITE_BODY = '{"amount": 12345}'


def txn_key(database: str) -> str:
    return f"ceiling.{database}.txn"


@contextmanager
def _ceiling_server(bench: Bench, database: str) -> Iterator[tuple[int, int]]:
    with _database_location(bench, database) as location:
        port = free_port()
        args = [sys.executable, "-m", "bench.ceiling", "--port", str(port)]
        with serving(
            [*args, "--database", location],
            ready_url=f"http://{HOST}:{port}/hello",
            log=bench.workdir / f"ceiling-{database}.log",
            cwd=REPO_ROOT,
        ) as process:
            yield port, process.pid


@contextmanager
def _database_location(bench: Bench, database: str) -> Iterator[str]:
    if database == "sqlite":
        yield str(bench.workdir / "ceiling.db")
    else:
        with scratch_postgres(bench.options.postgres_url, label="ceiling") as url:
            yield url


def run(bench: Bench) -> None:
    for index, database in enumerate(bench.options.databases):
        bench.progress(f"starting the ceiling server ({database})")
        with _ceiling_server(bench, database) as (port, pid):
            if index == 0:
                bench.measure(
                    "ceiling.hello",
                    "ceiling hello",
                    "req/s",
                    LoadSpec(port=port, paths=["/hello"], server_pid=pid),
                )
            bench.measure(
                txn_key(database),
                f"ceiling two-row txn ({database})",
                "txn/s",
                LoadSpec(
                    port=port,
                    paths=["/txn"],
                    method="POST",
                    body=WRITE_BODY,
                    headers=WRITE_HEADERS,
                    expect=[201],
                    idempotency_prefix=f"ceiling-{uuid.uuid4().hex[:8]}",
                    server_pid=pid,
                ),
            )


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
