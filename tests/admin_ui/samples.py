"""An empty and a full sample context for every template (the template test walks them).

A new template needs its two samples here; the test fails for a template without.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from admin_ui.staff.auth import home_context, login_context
from admin_ui.staff.dashboard import dashboard_context
from admin_ui.staff.users import users_context
from node.services.kpis import Bucket, Figures, KpiReport, Ratio
from node.services.staff import StaffAccount

ACCOUNT = StaffAccount("stf_1", "kari", "Kari Nordmann", "operator", "active", True)


def _identity(message: str) -> str:
    return message


def _figures(scale: int) -> Figures:
    return Figures(
        enrolments=3 * scale,
        active_members=2 * scale,
        retention_rate=Ratio.rate(1, 2),
        redemption_rate=Ratio.rate(1, 3),
        average_order_value=Ratio.average(123456 * scale, 3),
        customer_lifetime_value=Ratio.average(99999, 1),
        engagement=Ratio.rate(5, 2),
    )


FULL_REPORT = KpiReport(
    "month",
    date(2026, 1, 1),
    date(2026, 3, 1),
    "UTC",
    [
        Bucket(date(2026, 1, 1), date(2026, 2, 1), _figures(1)),
        Bucket(date(2026, 2, 1), date(2026, 3, 1), _figures(2)),
    ],
    _figures(3),
)

_DASHBOARD = {"locale": "en", "currency": "DKK", "exponent": 2, "gettext": _identity}

SAMPLES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "error.html": ({"status": 500, "message": ""}, {"status": 403, "message": "No."}),
    "staff/login.html": (
        login_context(),
        login_context(username="kari", next_path="/admin/users", error="Wrong."),
    ),
    "staff/home.html": (
        home_context(ACCOUNT, role_label=""),
        {
            **home_context(ACCOUNT, role_label="Operator"),
            "navigation": [("home", "Start"), ("dashboard", "Dashboard")],
        },
    ),
    "staff/dashboard.html": (
        dashboard_context(None, form={"period": "", "from": "", "to": ""}, errors={}, **_DASHBOARD),
        dashboard_context(
            FULL_REPORT,
            form={"period": "month", "from": "2026-01-01", "to": "2026-03-01"},
            errors={"to": "to: must be after from"},
            **_DASHBOARD,
        ),
    ),
    "staff/users.html": (
        users_context([], can_manage=False),
        users_context(
            [ACCOUNT, StaffAccount("stf_2", "ole", "Ole", "auditor", "disabled", False)],
            can_manage=True,
            form={"username": "nina", "display_name": "Nina <b>", "role": "auditor"},
            errors={"password": "password: at least 12 characters"},
            created="ole",
        ),
    ),
    "portal/signin.html": ({"token": "t"}, {"token": "abc-DEF_123"}),
    "portal/home.html": ({"points": 0}, {"points": 123456}),
    "portal/signed_out.html": ({}, {}),
}
