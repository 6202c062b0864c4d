"""Retention: each policy (its category, duration, why, and the setting that holds
it), a dry run with counts per category, run now, and the past runs with what
each deleted.

Policies are settings (konsort.toml or KONSORT_* environment variables): the
page names each one's setting and says how to change it; it does not edit
settings. A run is a background job (admin_ui.staff.job_status), started once
per form key (a double submit shows the same job), whose page shows its
progress and then links to the run; the run records its trigger as ``ui``
and its actor as the staff member.
Runs hold counts and opaque ids only.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from starlette.responses import Response

from admin_ui.i18n import N_
from admin_ui.pages import Page, PageCall, View
from admin_ui.permissions import allowed
from admin_ui.staff import job_status
from node.errors import NotFound
from node.services import retention
from node.store.job_models import BackgroundJob
from node.store.retention_models import RetentionRun

STATE_LABELS = {
    "done": N_("done"),
    "kept": N_("kept (no limit set)"),
    "unavailable": N_("not available on this node"),
}
ACTION_LABELS = {"delete": N_("delete"), "anonymise": N_("anonymise")}
UNIT_LABELS = {"days": N_("days"), "years": N_("years")}


def _key() -> str:
    return uuid.uuid4().hex


def _env_name(setting: str) -> str:
    return "KONSORT_" + setting.upper()


def run_view(run: RetentionRun) -> dict[str, Any]:
    """A run for the templates (times as datetimes)."""
    return {
        "id": run.public_id,
        "dry_run": run.dry_run,
        "trigger": run.trigger,
        "actor": run.actor,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "error": run.error,
        "categories": json.loads(run.categories) if run.categories else [],
    }


def retention_context(
    policies: list[dict[str, Any]],
    runs: list[dict[str, Any]],
    *,
    can_run: bool,
    key: str = "",
) -> dict[str, Any]:
    return {
        "policies": [{**p, "env": _env_name(p["setting"])} for p in policies],
        "runs": runs,
        "can_run": can_run,
        "key": key or _key(),
        "state_labels": STATE_LABELS,
        "action_labels": ACTION_LABELS,
        "unit_labels": UNIT_LABELS,
    }


def run_context(run: dict[str, Any]) -> dict[str, Any]:
    return {
        "run": run,
        "deleted": sum(c["applied"] for c in run["categories"]),
        "due": sum(c["due"] for c in run["categories"]),
        "state_labels": STATE_LABELS,
        "action_labels": ACTION_LABELS,
    }


async def retention_page(call: PageCall) -> View:
    assert call.staff is not None
    node = call.node
    policies = retention.policies_json(node.settings, now=node.clock.now())
    runs = await call.run(retention.list_runs, node.db, limit=20)
    return View(
        retention_context(
            policies,
            [run_view(run) for run in runs],
            can_run=allowed(call.staff.role, "privacy.retention.run"),
        )
    )


async def start_run(call: PageCall) -> Response:
    """A dry run (``dry_run=1``) or a real run of every policy, once per form key, as a
    background job: the answer is its status page at once (admin_ui.staff.job_status)."""
    posted = await call.form()
    return await job_status.start(
        call,
        kind="retention",
        params={"dry_run": str(posted.get("dry_run", "")) == "1"},
        key=str(posted.get("key", ""))[:64] or _key(),
        status_route="privacy_retention_job",
    )


async def job_page(call: PageCall) -> View | Response:
    """A retention job's progress; when finished, a link to the run it recorded."""

    def run_url(job: BackgroundJob) -> str | None:
        if job.result_ref is None:
            return None
        return call.request.url_for("privacy_retention_run", run_id=job.result_ref).path

    return await job_status.status_view(
        call, kind="retention", result_url=run_url, back_route="privacy_retention"
    )


async def run_page(call: PageCall) -> View:
    run_id = str(call.request.path_params["run_id"])
    if len(run_id) > 40:
        raise NotFound("no such retention run", field="id")
    run = await call.run(retention.get_run, call.node.db, run_id=run_id)
    return View(run_context(run_view(run)))


PAGES = [
    Page(
        "/privacy/retention",
        "privacy_retention",
        retention_page,
        action="privacy.retention.view",
        template="staff/privacy/retention.html",
        nav=N_("Retention"),
    ),
    Page(
        "/privacy/retention/runs",
        "privacy_retention_start",
        start_run,
        action="privacy.retention.run",
        methods=("POST",),
    ),
    Page(
        "/privacy/retention/jobs/{job_id}",
        "privacy_retention_job",
        job_page,
        action="privacy.retention.view",
        template="staff/job.html",
    ),
    Page(
        "/privacy/retention/runs/{run_id}",
        "privacy_retention_run",
        run_page,
        action="privacy.retention.view",
        template="staff/privacy/retention_run.html",
    ),
]
