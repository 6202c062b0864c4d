"""The node's ASGI application. Nothing is created at import time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from importlib.metadata import PackageNotFoundError, version

import httpx
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount

from admin_ui import ui_routes
from node.clock import Clock, SystemClock
from node.context import NodeContext
from node.db import Database
from node.errors import KonsortError
from node.jobs import node_jobs, run_periodically
from node.locks import JobLocks
from node.metrics import Metrics
from node.migrate import check_schema
from node.openapi import build_openapi
from node.routes import (
    audit,
    consent,
    customer,
    engagement,
    expiring,
    federation,
    kpis,
    memberships,
    offers,
    operator,
    partner_notices,
    partners,
    portal_links,
    processing_records,
    profiles,
    program,
    retention,
    rewards,
    settlement,
    subject_requests,
    system,
    webhooks,
)
from node.routes.endpoint import Endpoint, error_response
from node.secrets import NodeSecrets
from node.services.apikeys import ApiKeyCache
from node.services.federation import Federation
from node.settings import Settings

log = logging.getLogger("konsort.app")


def all_endpoints() -> list[Endpoint]:
    return [
        *system.ENDPOINTS,
        *operator.ENDPOINTS,
        *customer.ENDPOINTS,
        *program.ENDPOINTS,
        *rewards.ENDPOINTS,
        *kpis.ENDPOINTS,
        *federation.ENDPOINTS,
        *partners.ENDPOINTS,
        *settlement.ENDPOINTS,
        *webhooks.ENDPOINTS,
        *expiring.ENDPOINTS,
        *retention.ENDPOINTS,
        *audit.ENDPOINTS,
        *profiles.ENDPOINTS,
        *subject_requests.ENDPOINTS,
        *consent.ENDPOINTS,
        *partner_notices.ENDPOINTS,
        *processing_records.ENDPOINTS,
        *memberships.ENDPOINTS,
        *engagement.ENDPOINTS,
        *offers.ENDPOINTS,
        *portal_links.ENDPOINTS,
    ]


def konsort_version() -> str:
    try:
        return version("konsort")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0.0.0"


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    codes = {404: "not_found", 405: "method_not_allowed"}
    error = KonsortError(
        "no such route" if exc.status_code == 404 else str(exc.detail),
        code=codes.get(exc.status_code, "http_error"),
    )
    error.http_status = exc.status_code
    response = error_response(error)
    if exc.headers:
        response.headers.update(exc.headers)  # e.g. Allow on a 405
    return response


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    secrets: NodeSecrets | None = None,
    database: Database | None = None,
    run_jobs: bool = True,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Starlette:
    """Build a node. ``secrets`` default to the master key in the data directory."""
    db = database or Database(settings.resolved_database_url)
    clock = clock or SystemClock()
    node_secrets = secrets or NodeSecrets.load(settings.keys_dir)
    node = NodeContext(
        settings=settings,
        db=db,
        secrets=node_secrets,
        clock=clock,
        metrics=Metrics(),
        api_keys=ApiKeyCache(settings.api_key_cache_seconds, clock),
        federation=Federation(
            node_id=settings.node_id,
            keys_dir=settings.keys_dir,
            secrets=node_secrets,
            message_ttl_seconds=settings.federation_message_ttl_seconds,
            settings=settings,
        ),
    )
    endpoints = all_endpoints()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await run_in_threadpool(check_schema, db.engine)  # refuse to serve a wrong schema
        jobs: list[asyncio.Task[None]] = []
        # Outgoing HTTP (webhooks): no redirects, a short timeout, injectable for tests.
        http = httpx.AsyncClient(transport=transport, follow_redirects=False, timeout=10.0)
        locks = JobLocks(db, lock_database_url=settings.job_lock_database_url or None)
        stopping = asyncio.Event()
        if run_jobs:
            jobs = [
                asyncio.create_task(run_periodically(node, job, locks=locks, stopping=stopping))
                for job in node_jobs(node, http=http)
            ]
        try:
            yield
        finally:
            # uvicorn runs this after the last in-flight request is answered:
            # let running rounds finish, then cancel what is still going.
            stopping.set()
            if jobs:
                await asyncio.wait(jobs, timeout=settings.shutdown_grace_seconds)
            for job in jobs:
                job.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await job
            await http.aclose()
            locks.dispose()
            if database is None:
                db.dispose()

    app = Starlette(
        routes=[*(endpoint.route() for endpoint in endpoints), *ui_routes(node)],
        exception_handlers={HTTPException: _http_error},
        lifespan=lifespan,
    )
    app.state.node = node
    app.state.peer_rate_limit = federation.PeerRateLimit()
    app.state.http_transport = transport  # request handlers' calls to partners
    for mounted in app.routes:  # the member portal calls partners too (partner rewards)
        if isinstance(mounted, Mount) and isinstance(mounted.app, Starlette):
            mounted.app.state.http_transport = transport
    app.state.openapi = build_openapi(
        endpoints, title=f"Konsort node API ({settings.node_id})", version=konsort_version()
    )
    return app
