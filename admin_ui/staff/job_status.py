"""Long actions (issue 10): starting a background job from a page and its status page.

A page that starts a long action (a retention run, the ledger CSV) queues a
job with node.services.background_jobs and answers with a redirect to the
job's status page at once; the work runs after the answer is sent (a
Starlette background task, in a worker thread). The status page refreshes
itself every few seconds with ``<meta http-equiv="refresh">`` (no script)
while the job is queued or running, shows done of total, and links to the
result when it is finished: the retention run's page, or the file, whose
download is an audited page (``report.download``) like the other exports.

Each kind's status page sits under the page group that started it, with that
group's permission: a job of another kind is not found there.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from starlette.background import BackgroundTask
from starlette.responses import RedirectResponse, Response

from admin_ui.i18n import N_
from admin_ui.pages import Download, PageCall, View
from node.errors import NotFound
from node.services import background_jobs
from node.services.idempotency import run_idempotent_async
from node.store.job_models import BackgroundJob

#: Seconds between refreshes of a status page while its job runs.
REFRESH_SECONDS = 2
STATE_LABELS = {
    "queued": N_("waiting to start"),
    "running": N_("running"),
    "done": N_("finished"),
    "failed": N_("failed"),
}
KIND_LABELS = {
    "retention": N_("Retention run"),
    "ledger_csv": N_("Ledger export (CSV)"),
}


def form_key() -> str:
    return uuid.uuid4().hex


def job_view(job: BackgroundJob) -> dict[str, Any]:
    """A job for the templates (no result bytes)."""
    return {
        "id": job.public_id,
        "kind": job.kind,
        "params": background_jobs.job_params(job),
        "state": job.state,
        "done": job.done,
        "total": job.total,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
        "error": job.error,
        "result_ref": job.result_ref,
        "has_file": job.result is not None,
        "result_name": job.result_name,
    }


def job_context(
    job: dict[str, Any], *, result_url: str | None, back_url: str, auto_refresh: bool = True
) -> dict[str, Any]:
    """The status page: progress while it runs, the result link when done. The
    reader may stop the refreshing (WCAG 2.2.1) and reload by hand."""
    running = job["state"] in ("queued", "running")
    total = max(job["total"], job["done"])
    return {
        "job": job,
        "running": running,
        "refresh": REFRESH_SECONDS if running and auto_refresh else None,
        "total": total,
        "percent": (100 * job["done"] // total) if total else None,
        "result_url": result_url if job["state"] == "done" else None,
        "back_url": back_url,
        "state_labels": STATE_LABELS,
        "kind_labels": KIND_LABELS,
    }


async def start(
    call: PageCall, *, kind: str, params: dict[str, Any], key: str, status_route: str
) -> Response:
    """Queue a job (once per form key) and go to its status page; the work follows the answer."""
    assert call.staff is not None
    node = call.node
    answer = await run_idempotent_async(
        node.db,
        background_jobs.start_job_unit(
            kind=kind,
            params=params,
            actor=f"staff:{call.staff.id}",
            idempotency_key=f"admin-ui:{kind}:{key[:64]}",
            now=node.clock.now(),
        ),
    )
    job_id = str(answer.body["id"])
    target = call.request.url_for(status_route, job_id=job_id).path
    task = None if answer.replayed else _run_later(call, job_id)
    return RedirectResponse(target, status_code=303, background=task)


def _run_later(call: PageCall, job_id: str) -> BackgroundTask:
    node = call.node
    return BackgroundTask(
        background_jobs.run_job,
        node.db,
        node.settings,
        job_id=job_id,
        clock=node.clock,
        fed=node.federation,
    )


async def load(call: PageCall, *, kind: str) -> tuple[BackgroundJob, BackgroundTask | None]:
    """The job of the path (of ``kind``), and the task that starts it if it was left queued."""
    node = call.node
    job_id = str(call.request.path_params["job_id"])
    job, resume = await call.run(
        background_jobs.job_status, node.db, job_id=job_id, now=node.clock.now()
    )
    if job.kind != kind:
        raise NotFound("no such job", field="id")
    return job, _run_later(call, job.public_id) if resume else None


async def status_view(
    call: PageCall, *, kind: str, result_url: Callable[[BackgroundJob], str | None], back_route: str
) -> View | Response:
    """The status page of the path's job; ``result_url`` names where a finished job's result is."""
    job, resume = await load(call, kind=kind)
    if resume is not None:
        # A job left queued by a process that stopped: start it here, then show it.
        return RedirectResponse(call.request.url.path, status_code=303, background=resume)
    back = call.request.url_for(back_route).path
    auto_refresh = call.request.query_params.get("refresh") != "off"
    return View(
        job_context(
            job_view(job), result_url=result_url(job), back_url=back, auto_refresh=auto_refresh
        ),
        template="staff/job.html",
    )


async def result_file(call: PageCall, *, kind: str) -> Download:
    job, _ = await load(call, kind=kind)
    if job.state != "done" or job.result is None:
        raise NotFound("this job has no file (yet)", field="id")
    return Download(
        job.result, job.result_name or "export", job.result_type or "application/octet-stream"
    )
