"""Exports for the bookkeeper and the supervisory authority: the ledger CSV for a
date range, all consent records as CSV, and the Art. 30 record of processing.
(A member's own access export is on its request's page.)

None of these holds personal data beyond opaque customer ids, but the issue
asks that every export download be audited: the download pages set
``audited`` and admin_ui.pages writes one ``report.download`` entry (no
customer id, the page's name in detail) before the file is sent.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from starlette.responses import RedirectResponse, Response

from admin_ui.i18n import N_
from admin_ui.pages import Download, Page, PageCall, View
from admin_ui.permissions import allowed
from node.errors import ValidationFailed
from node.services import audit, consent_reports, ledger_export, processing_records

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


def _typed(call: PageCall) -> dict[str, str]:
    query = call.request.query_params
    return {name: query.get(name, "")[:20].strip() for name in LEDGER_FIELDS}


async def exports_page(call: PageCall) -> View | Response:
    """The exports; a submitted ledger form is checked here, then sent to the download."""
    assert call.staff is not None
    form = _typed(call)
    can_download = allowed(call.staff.role, "privacy.exports.download")
    if call.request.query_params.get("ledger") and can_download:
        try:
            ledger_days(form)
        except ValidationFailed as exc:
            errors = {exc.field or "from": exc.message}
            return View(
                exports_context(form=form, can_download=can_download, errors=errors),
                status=422,
            )
        target = call.request.url_for("privacy_export_ledger").path
        return RedirectResponse(f"{target}?from={form['from']}&to={form['to']}", status_code=303)
    return View(exports_context(form=form, can_download=can_download))


async def ledger_download(call: PageCall) -> Download:
    first, last = ledger_days(_typed(call))
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
    _download("/privacy/exports/ledger.csv", "privacy_export_ledger", ledger_download),
    _download("/privacy/exports/consent-records.csv", "privacy_export_consent", consent_download),
    _download(
        "/privacy/exports/records-of-processing.md",
        "privacy_export_processing",
        processing_download,
    ),
]
