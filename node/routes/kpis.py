"""Operator API: the program's KPIs per calendar period (/api/v1/kpis)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from starlette.responses import Response

from node.routes.endpoint import Call, Endpoint, json_response
from node.routes.schemas import KpiBucketOut, KpiFiguresOut, KpiQuery, KpiReportOut, RatioOut
from node.services import kpis, membership_kpis


def _ratio(ratio: kpis.Ratio) -> RatioOut:
    return RatioOut(value=ratio.value, numerator=ratio.numerator, denominator=ratio.denominator)


def _figures(figures: kpis.Figures) -> dict[str, Any]:
    return {
        "enrolments": figures.enrolments,
        "active_members": figures.active_members,
        "retention_rate": _ratio(figures.retention_rate),
        "redemption_rate": _ratio(figures.redemption_rate),
        "average_order_value": _ratio(figures.average_order_value),
        "customer_lifetime_value": _ratio(figures.customer_lifetime_value),
        "engagement": _ratio(figures.engagement),
    }


async def get_kpis(call: Call) -> Response:
    """Enrolments, active members, retention, redemption rate, average order value,
    lifetime value and engagement per calendar period; see docs/kpis.md."""
    query: KpiQuery = call.query
    report = await call.run(
        kpis.kpi_report,
        call.node.db,
        start=query.from_,
        end=query.to,
        period=query.period,
        tz=kpis.time_zone(query.tz),
    )
    return json_response(
        KpiReportOut(
            period=report.period,
            from_=report.start,
            to=report.end,
            tz=report.time_zone,
            buckets=[
                KpiBucketOut.model_validate({"start": b.start, "end": b.end, **_figures(b.figures)})
                for b in report.buckets
            ],
            totals=KpiFiguresOut.model_validate(_figures(report.totals)),
            definitions=kpis.DEFINITIONS,
        )
    )


class MembershipKpisOut(BaseModel):
    """Per bucket: paid members, renewal rate and churn (basis points), fee revenue."""

    buckets: list[dict[str, Any]]


async def get_membership_kpis(call: Call) -> Response:
    """Paid members, renewal rate, churn and fee revenue per calendar period."""
    query: KpiQuery = call.query
    buckets = await call.run(
        membership_kpis.membership_kpi_report,
        call.node.db,
        start=query.from_,
        end=query.to,
        period=query.period,
        tz=kpis.time_zone(query.tz),
    )
    items = [
        {
            "start": b.start.isoformat(),
            "end": b.end.isoformat(),
            "paid_members": b.paid_members,
            "renewal_rate": _ratio(b.renewal_rate).model_dump(),
            "churn": _ratio(b.churn).model_dump(),
            "fee_revenue": b.fee_revenue,
        }
        for b in buckets
    ]
    return json_response({"buckets": items})


ENDPOINTS = [
    Endpoint(
        "GET",
        "/api/v1/kpis",
        get_kpis,
        "KPIs per calendar period",
        "operator",
        "kpis",
        query=KpiQuery,
        response=KpiReportOut,
        errors=(422,),
    ),
    Endpoint(
        "GET",
        "/api/v1/kpis/memberships",
        get_membership_kpis,
        "Paid membership KPIs per calendar period",
        "operator",
        "kpis",
        query=KpiQuery,
        response=MembershipKpisOut,
        errors=(422,),
    ),
]
