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
    "portal/signed_out.html": ({}, {}),
}


# -- the member portal (appended) --------------------------------------------------
from datetime import UTC, datetime  # noqa: E402

from admin_ui.portal.consents import consents_context  # noqa: E402
from admin_ui.portal.home import portal_home_context  # noqa: E402
from admin_ui.portal.transfers import transfer_context  # noqa: E402
from node.program.config import Tier  # noqa: E402
from node.services import portal as portal_service  # noqa: E402
from node.services.ledger import Balance  # noqa: E402
from node.services.tiers import TierStatus  # noqa: E402
from protocol import Conversion  # noqa: E402

_AT = "2026-03-01T12:00:00Z"
_SILVER, _GOLD = (
    Tier(code="silver", name="Silver <b>", threshold=0),
    Tier(code="gold", name="Gold", threshold=500000),
)
_OVERVIEW = portal_service.MemberOverview(
    balance=Balance(123456, 40, datetime(2026, 3, 20, tzinfo=UTC)),
    tier=TierStatus(_SILVER, None, None, None, 120000, "spend", _GOLD, 380000, []),
    expiring={"points": 40, "lots": [{"points": 40, "earned_at": _AT, "expires_at": _AT}]},
    history=[
        {"id": "t1", "kind": "earn", "points": 100, "reference": None, "created_at": _AT},
        {"id": "t2", "kind": "transfer-out", "points": -50, "reference": "x", "created_at": _AT},
        {"id": "t3", "kind": "odd-kind", "points": 1, "reference": None, "created_at": _AT},
    ],
)
_PARTNER = portal_service.TransferPartner("bookshop", "Bogladen <b>", 50, 120)
_OPTIONS = portal_service.TransferOptions(
    [_PARTNER],
    1000,
    [{"partner": "bookshop", "points": -240, "partner_points": 100, "status": "pending"}],
)
_CONSENTS = {
    "restricted": True,
    "purposes": [
        {
            "purpose": "partner_transfers",
            "legal_basis": "consent",
            "state": "granted",
            "granted": True,
            "title": "Partner <b>",
            "text": "Move points.",
        },
        {
            "purpose": "marketing",
            "legal_basis": "consent",
            "state": "withdrawn",
            "granted": False,
            "title": "Marketing",
            "text": "Offers.",
        },
    ],
}

SAMPLES["portal/home.html"] = (
    portal_home_context(None),
    portal_home_context(_OVERVIEW, notice="Moved."),
)
SAMPLES["portal/transfer.html"] = (
    transfer_context(None),
    transfer_context(
        _OPTIONS,
        form={"partner": "bookshop", "points": "abc"},
        errors={"points": "Enter a whole number of points."},
        refusal="No consent.",
    ),
)
SAMPLES["portal/transfer_preview.html"] = (
    transfer_context(None),
    transfer_context(
        _OPTIONS,
        form={"partner": "bookshop", "points": "250"},
        preview=portal_service.TransferPreview(_PARTNER, Conversion(240, 100, 12000, 0)),
        form_key="k" * 36,
    ),
)
SAMPLES["portal/consents.html"] = (
    consents_context(None),
    consents_context(_CONSENTS, form_key="k" * 36, changed="Partner <b>", error="No."),
)
