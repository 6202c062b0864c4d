"""The operator's KPI dashboard: each seed KPI as a chart with its numbers beside it.

The context is a pure function of the KPI report (node.services.kpis) and
the period form, so a test renders it with empty and full data. The charts
are separate image responses (staff/charts.py) with the same query string.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import QueryParams
from starlette.responses import Response

from admin_ui import i18n
from admin_ui.i18n import N_
from admin_ui.pages import Page, PageCall, View
from admin_ui.security import IMAGE_POLICY
from admin_ui.staff.charts import line_chart_svg
from node.errors import NotFound, ValidationFailed
from node.services import kpis
from node.services.kpis import KpiReport, Ratio


@dataclass(frozen=True)
class Kpi:
    key: str
    label: str
    #: count | rate (basis points) | money (minor units) | per_member (x 10 000)
    kind: str


KPIS: tuple[Kpi, ...] = (
    Kpi("enrolments", N_("Enrolments"), "count"),
    Kpi("active_members", N_("Active members"), "count"),
    Kpi("retention_rate", N_("Retention rate"), "rate"),
    Kpi("redemption_rate", N_("Redemption rate"), "rate"),
    Kpi("average_order_value", N_("Average order value"), "money"),
    Kpi("customer_lifetime_value", N_("Customer lifetime value"), "money"),
    Kpi("engagement", N_("Engagement (events per active member)"), "per_member"),
)
KPI_BY_KEY = {kpi.key: kpi for kpi in KPIS}
DASHBOARD_PERIODS = ("week", "month", "quarter", "year")
PERIOD_LABELS = {
    "week": N_("Weeks"),
    "month": N_("Months"),
    "quarter": N_("Quarters"),
    "year": N_("Years"),
}
_LABEL_FORMATS = {
    "day": "d MMM",
    "week": "d MMM",
    "month": "MMM y",
    "quarter": "QQQ y",
    "year": "y",
}


def default_range(today: date, period: str) -> tuple[date, date]:
    """The last twelve periods up to and including the current one."""
    typed: kpis.Period = period  # type: ignore[assignment]
    current = kpis.period_start(today, typed)
    return kpis.shift(current, typed, -11), kpis.shift(current, typed, 1)


def _date_field(value: str | None, name: str, fallback: date) -> date:
    if not value:
        return fallback
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(f"{name}: a date like 2026-01-31", field=name) from None


def parse_period(query: QueryParams, today: date) -> tuple[str, date, date]:
    """(period, from, to) from the dashboard's query; ValidationFailed names the field."""
    period = query.get("period") or "month"
    if period not in DASHBOARD_PERIODS:
        raise ValidationFailed("period: one of week, month, quarter, year", field="period")
    default_start, default_end = default_range(today, period)
    start = _date_field(query.get("from"), "from", default_start)
    end = _date_field(query.get("to"), "to", default_end)
    kpis.bucket_dates(start, end, period)  # type: ignore[arg-type]  # checks range and size
    return period, start, end


def _value(figure: int | Ratio) -> int | None:
    return figure if isinstance(figure, int) else figure.value


def display_value(kpi: Kpi, value: int | None, *, locale: str, currency: str, exponent: int) -> str:
    if kpi.kind == "count":
        return i18n.format_number(value, locale)
    if kpi.kind == "rate":
        return i18n.format_basis_points(value, locale)
    if kpi.kind == "money":
        return i18n.format_money(value, currency, exponent, locale)
    if value is None:
        return "–"
    return i18n.format_number(Decimal(value).scaleb(-4), locale, pattern="#,##0.00")


def chart_value(kpi: Kpi, value: int | None, *, exponent: int) -> float | None:
    """The number a chart plots (display only; the table shows exact values)."""
    if value is None:
        return None
    scale = {"count": 0, "rate": 2, "money": exponent, "per_member": 4}[kpi.kind]
    return float(Decimal(value).scaleb(-scale))


def bucket_label(start: date, period: str, locale: str) -> str:
    return i18n.format_date(start, locale, _LABEL_FORMATS[period])


def dashboard_context(
    report: KpiReport | None,
    *,
    form: dict[str, str],
    errors: dict[str, str],
    locale: str,
    currency: str,
    exponent: int,
    gettext: Any,
) -> dict[str, Any]:
    """Everything dashboard.html shows; ``report`` None when the form is invalid."""
    sections: list[dict[str, Any]] = []
    if report is not None:
        query = urlencode(
            {
                "period": report.period,
                "from": report.start.isoformat(),
                "to": report.end.isoformat(),
            }
        )
        for kpi in KPIS:
            rows = [
                {
                    "label": bucket_label(bucket.start, report.period, locale),
                    "value": display_value(
                        kpi,
                        _value(getattr(bucket.figures, kpi.key)),
                        locale=locale,
                        currency=currency,
                        exponent=exponent,
                    ),
                }
                for bucket in report.buckets
            ]
            total = display_value(
                kpi,
                _value(getattr(report.totals, kpi.key)),
                locale=locale,
                currency=currency,
                exponent=exponent,
            )
            sections.append(
                {
                    "key": kpi.key,
                    "label": gettext(kpi.label),
                    "definition": kpis.DEFINITIONS[kpi.key],
                    "chart_query": query,
                    "rows": rows,
                    "total": total,
                }
            )
    return {
        "form": form,
        "errors": errors,
        "periods": [(key, gettext(PERIOD_LABELS[key])) for key in DASHBOARD_PERIODS],
        "sections": sections,
    }


def _report(call: PageCall) -> tuple[KpiReport | None, dict[str, str], dict[str, str]]:
    query = call.request.query_params
    today = call.node.clock.now().date()
    form = {key: query.get(key, "") for key in ("period", "from", "to")}
    try:
        period, start, end = parse_period(query, today)
    except ValidationFailed as exc:
        return None, form, {exc.field or "period": exc.message}
    form = {"period": period, "from": start.isoformat(), "to": end.isoformat()}
    return (
        kpis.kpi_report(call.node.db, start=start, end=end, period=period),  # type: ignore[arg-type]
        form,
        {},
    )


async def dashboard(call: PageCall) -> View:
    report, form, errors = await call.run(_report, call)
    settings = call.node.settings
    return View(
        dashboard_context(
            report,
            form=form,
            errors=errors,
            locale=call.locale,
            currency=settings.currency,
            exponent=settings.currency_exponent,
            gettext=call.gettext,
        ),
        status=422 if errors else 200,
    )


async def chart(call: PageCall) -> Response:
    kpi = KPI_BY_KEY.get(call.request.path_params["kpi"])
    if kpi is None:
        raise NotFound("no such chart")
    report, _, errors = await call.run(_report, call)
    if report is None:
        raise ValidationFailed(next(iter(errors.values())))
    exponent = call.node.settings.currency_exponent
    svg = line_chart_svg(
        title=call.gettext(kpi.label),
        labels=[bucket_label(b.start, report.period, call.locale) for b in report.buckets],
        values=[
            chart_value(kpi, _value(getattr(b.figures, kpi.key)), exponent=exponent)
            for b in report.buckets
        ],
        unit=" %" if kpi.kind == "rate" else "",
    )
    return Response(
        svg,
        media_type="image/svg+xml",
        headers={"Content-Security-Policy": IMAGE_POLICY, "Cache-Control": "private, no-store"},
    )


PAGES = [
    Page(
        "/dashboard",
        "dashboard",
        dashboard,
        action="kpis.view",
        template="staff/dashboard.html",
        nav=N_("Dashboard"),
    ),
    Page("/charts/{kpi}.svg", "kpi_chart", chart, action="kpis.view"),
]
