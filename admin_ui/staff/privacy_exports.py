"""Exports for the bookkeeper and the supervisory authority: the ledger CSV for a
date range, all consent records as CSV, and the Art. 30 record of processing.
(A member's own access export is on its request's page.)

The ledger CSV of a long range is big: the form starts a background job
(admin_ui.staff.job_status) whose page shows the progress and, when done,
links to the file. ``ledger.csv`` still answers a range directly (scripts).
A member's access export stays a direct download: it is one member's data,
small, and personal; keeping a copy in a job row would put personal data
where erasure does not reach.

None of these holds personal data beyond opaque customer ids, but the issue
asks that every export download be audited: the download pages set
``audited`` and admin_ui.pages writes one ``report.download`` entry (no
customer id, the page's name in detail) before the file is sent.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from starlette.responses import Response

from admin_ui.i18n import N_
from admin_ui.pages import Download, Page, PageCall, View
from admin_ui.permissions import allowed
from admin_ui.staff import job_status
from node.errors import ValidationFailed
from node.services import audit, consent_reports, ledger_export, processing_records
from node.store.job_models import BackgroundJob

audit.register_action(
    "report.download", "staff downloaded a bookkeeping or compliance export (detail: page)"
)

LEDGER_FIELDS = ("from", "to")


def exports_context(
    *,
    form: dict[str, str],
    can_download: bool,
    errors: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "form": {name: form.get(name, "") for name in LEDGER_FIELDS},
        "errors": errors or {},
        "can_download": can_download,
        "key": job_status.form_key(),
    }


def ledger_days(form: dict[str, str]) -> tuple[date, date]:
    """The first and last day of the ledger export; ValidationFailed names the field."""
    days = []
    for name in LEDGER_FIELDS:
        try:
            days.append(date.fromisoformat(form.get(name, "")))
        except ValueError:
            raise ValidationFailed(f"{name}: a date like 2026-01-31", field=name) from None
    ledger_export.day_range(days[0], days[1])
    return days[0], days[1]


def _typed(values: Any) -> dict[str, str]:
    return {name: str(values.get(name, ""))[:20].strip() for name in LEDGER_FIELDS}


async def exports_page(call: PageCall) -> View:
    assert call.staff is not None
    return View(
        exports_context(
            form=_typed(call.request.query_params),
            can_download=allowed(call.staff.role, "privacy.exports.download"),
        )
    )


async def start_ledger(call: PageCall) -> View | Response:
    """Check the ledger form, then build the CSV as a background job (its status page next)."""
    posted = await call.form()
    form = _typed(posted)
    try:
        ledger_days(form)
    except ValidationFailed as exc:
        errors = {exc.field or "from": exc.message}
        return View(exports_context(form=form, can_download=True, errors=errors), status=422)
    return await job_status.start(
        call,
        kind="ledger_csv",
        params={"first": form["from"], "last": form["to"]},
        key=str(posted.get("key", ""))[:64] or job_status.form_key(),
        status_route="privacy_export_job",
    )


async def job_page(call: PageCall) -> View | Response:
    """The ledger job's progress; when finished, a link to the audited download."""

    def file_url(job: BackgroundJob) -> str:
        return call.request.url_for("privacy_export_job_file", job_id=job.public_id).path

    return await job_status.status_view(
        call, kind="ledger_csv", result_url=file_url, back_route="privacy_exports"
    )


async def job_file(call: PageCall) -> Download:
    return await job_status.result_file(call, kind="ledger_csv")


async def ledger_download(call: PageCall) -> Download:
    first, last = ledger_days(_typed(call.request.query_params))
    lines = await call.run(
        lambda: list(ledger_export.ledger_csv(call.node.db, first=first, last=last))
    )
    return Download(
        "".join(lines).encode(), f"ledger-{first}-{last}.csv", "text/csv; charset=utf-8"
    )


async def consent_download(call: PageCall) -> Download:
    lines = await call.run(lambda: list(consent_reports.consent_records_csv(call.node.db)))
    day = call.node.clock.now().date()
    return Download(
        "".join(lines).encode(), f"consent-records-{day}.csv", "text/csv; charset=utf-8"
    )


async def processing_download(call: PageCall) -> Download:
    node = call.node
    now = node.clock.now()
    record = await call.run(
        processing_records.records_of_processing,
        node.db,
        node.settings,
        node.federation,
        now=now,
    )
    text = processing_records.as_markdown(record)
    return Download(
        text.encode(), f"records-of-processing-{now.date()}.md", "text/markdown; charset=utf-8"
    )


def _download(path: str, name: str, handler: Any) -> Page:
    return Page(
        path,
        name,
        handler,
        action="privacy.exports.download",
        audited=True,
        audit_action="report.download",
        purpose="legal_obligation",
    )


PAGES = [
    Page(
        "/privacy/exports",
        "privacy_exports",
        exports_page,
        action="privacy.exports.view",
        template="staff/privacy/exports.html",
        nav=N_("Exports"),
    ),
    Page(
        "/privacy/exports/ledger-jobs",
        "privacy_export_ledger_start",
        start_ledger,
        action="privacy.exports.download",
        template="staff/privacy/exports.html",
        methods=("POST",),
    ),
    Page(
        "/privacy/exports/jobs/{job_id}",
        "privacy_export_job",
        job_page,
        action="privacy.exports.download",
        template="staff/job.html",
    ),
    _download("/privacy/exports/jobs/{job_id}/file", "privacy_export_job_file", job_file),
    _download("/privacy/exports/ledger.csv", "privacy_export_ledger", ledger_download),
    _download("/privacy/exports/consent-records.csv", "privacy_export_consent", consent_download),
    _download(
        "/privacy/exports/records-of-processing.md",
        "privacy_export_processing",
        processing_download,
    ),
]
