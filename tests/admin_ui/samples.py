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
# The privacy officer's pages.
from admin_ui.staff.privacy_audit import audit_context  # noqa: E402
from admin_ui.staff.privacy_requests import queue_context, request_context  # noqa: E402
from node.services.audit import ChainReport  # noqa: E402

_REQUEST: dict[str, Any] = {
    "id": "req_1",
    "customer_id": "cus_1",
    "type": "erasure",
    "state": "done",
    "channel": "in_store",
    "received_at": "2026-01-31T10:00:00Z",
    "original_due_at": "2026-02-28T10:00:00Z",
    "due_at": "2026-03-31T10:00:00Z",
    "overdue": True,
    "extension": {"months": 1, "reason": "many <records>", "customer_notified_at": None},
    "verification": {"method": "in_person_document", "verified_at": None, "verified_by": None},
    "decided_at": "2026-02-01T10:00:00Z",
    "decided_by": "staff:stf_1",
    "rejection_reason": "<b>no</b>",
    "done_at": "2026-02-01T10:00:00Z",
    "outcome": {"summary": "erased"},
    "export_available": True,
    "partner_notices": [
        {
            "partner": "bookshop",
            "kind": "erasure",
            "state": "receipt_in",
            "id": "ntc_1",
            "answered_at": "2026-02-01T11:00:00Z",
            "receipt": {
                "outcome": "accepted",
                "erased": ["links"],
                "kept": [{"category": "bookkeeping", "exemption": "legal_obligation"}],
            },
        },
        {
            "partner": "charity",
            "kind": "erasure",
            "state": "queued",
            "id": "ntc_2",
            "answered_at": None,
            "receipt": None,
        },
    ],
    "history": [
        {
            "from_state": None,
            "to_state": "received",
            "actor": "staff:stf_1",
            "note": None,
            "at": "2026-01-31T10:00:00Z",
        },
        {
            "from_state": "received",
            "to_state": "identity_verified",
            "actor": "staff:stf_1",
            "note": "<i>checked</i>",
            "at": "2026-01-31T11:00:00Z",
        },
    ],
}
_OPEN_REQUEST: dict[str, Any] = {
    **_REQUEST,
    "state": "received",
    "extension": None,
    "rejection_reason": None,
    "outcome": None,
    "export_available": False,
    "partner_notices": [],
    "history": [],
    "overdue": False,
}
_ENTRY = {
    "seq": 7,
    "at": "2026-02-01T10:00:00Z",
    "actor": "staff:stf_1",
    "action": "export.download",
    "customer_id": "cus_1",
    "purpose": "subject_request",
    "detail": {"page": "privacy_request_export"},
    "hash": "ab" * 32,
}
_AUDIT_FORM = {"staff": "staff:stf_1", "customer": "<cus>", "action": "", "from": "", "to": "x"}

SAMPLES.update(
    {
        "staff/privacy/requests.html": (
            queue_context([], show="open"),
            queue_context([_REQUEST, _OPEN_REQUEST], show="all", next_cursor="12"),
        ),
        "staff/privacy/request.html": (
            request_context(_OPEN_REQUEST, can_act=False, can_export=False),
            request_context(
                _REQUEST,
                can_act=True,
                can_export=True,
                errors={"reason": "a rejection needs a reason", "notice": "no such notice"},
                form={"reason": "<typed>"},
                done="approve",
            ),
        ),
        "staff/privacy/audit.html": (
            audit_context([], chain=None, form={}),
            audit_context(
                [_ENTRY, {**_ENTRY, "seq": 6, "customer_id": None, "detail": {}}],
                chain=ChainReport(False, 5, 6, "hash does not match", 0, 5, "0" * 64),
                form=_AUDIT_FORM,
                errors={"to": "to: a date like 2026-01-31"},
                staff_options=[("staff:stf_1", "kari")],
                next_before=6,
            ),
        ),
    }
)
# The rest of the privacy officer's pages: consent, retention, exports.
from admin_ui.staff.privacy_consent import (  # noqa: E402
    consent_context,
    history_context,
    wording_context,
)
from admin_ui.staff.privacy_exports import exports_context  # noqa: E402
from admin_ui.staff.privacy_retention import retention_context, run_context  # noqa: E402

_PURPOSE_REPORT = {
    "purpose": "marketing",
    "legal_basis": "consent",
    "withdrawable": True,
    "current_version": 2,
    "title": "News <b>",
    "text": "We send <i>news</i>",
    "granted": 3,
    "withdrawn": 1,
    "versions": [
        {
            "version": 1,
            "title": "Old",
            "published_at": "2026-01-01T00:00:00Z",
            "current": False,
            "granted": 1,
            "withdrawn": 1,
        },
        {
            "version": 2,
            "title": "News <b>",
            "published_at": "2026-02-01T00:00:00Z",
            "current": True,
            "granted": 2,
            "withdrawn": 0,
        },
    ],
}
_WITHDRAWAL = {
    "id": "cns_1",
    "customer_id": "cus_<1>",
    "purpose": "marketing",
    "wording_version": 1,
    "channel": "web",
    "recorded_at": "2026-02-02T10:00:00Z",
}
_HISTORY = [
    {**_WITHDRAWAL, "granted": True, "actor": "customer"},
    {**_WITHDRAWAL, "granted": False, "actor": "staff:stf_1"},
]
_POLICY = {
    "category": "withdrawn_consent",
    "description": "Withdrawn <consent>",
    "reason": "proof",
    "action": "delete",
    "duration": 365,
    "unit": "days",
    "setting": "retention_withdrawn_consent_days",
    "keeps_forever": False,
    "available": True,
    "cutoff": "2025-01-01T00:00:00Z",
}
_RUN = {
    "id": "ret_1",
    "dry_run": True,
    "trigger": "ui",
    "actor": "staff:stf_1",
    "started_at": datetime(2026, 2, 1, tzinfo=UTC),
    "finished_at": datetime(2026, 2, 1, tzinfo=UTC),
    "error": "audit_log: <Error>",
    "categories": [
        {
            "category": "withdrawn_consent",
            "action": "delete",
            "state": "done",
            "cutoff": None,
            "due": 3,
            "applied": 2,
            "sample": ["cns_1", "cns_2"],
        },
        {
            "category": "audit_log",
            "action": "delete",
            "state": "kept",
            "cutoff": None,
            "due": 0,
            "applied": 0,
            "sample": [],
        },
    ],
}
SAMPLES.update(
    {
        "staff/privacy/consent.html": (
            consent_context(
                {"purposes": [], "recent_withdrawals": []}, can_edit=False, can_look_up=False
            ),
            consent_context(
                {"purposes": [_PURPOSE_REPORT], "recent_withdrawals": [_WITHDRAWAL]},
                can_edit=True,
                can_look_up=True,
                done="marketing",
            ),
        ),
        "staff/privacy/consent_history.html": (
            history_context("cus_1", []),
            history_context("cus_<1>", _HISTORY),
        ),
        "staff/privacy/consent_wording.html": (
            wording_context(_PURPOSE_REPORT),
            wording_context(
                _PURPOSE_REPORT,
                form={"title": "<t>", "text": "</textarea><b>"},
                errors={"title": "too long", "text": "the text is 1-4000 characters"},
            ),
        ),
        "staff/privacy/retention.html": (
            retention_context([], [], can_run=False),
            retention_context(
                [_POLICY, {**_POLICY, "keeps_forever": True, "available": False, "unit": "years"}],
                [_RUN, {**_RUN, "dry_run": False, "error": None}],
                can_run=True,
            ),
        ),
        "staff/privacy/retention_run.html": (
            run_context({**_RUN, "categories": [], "error": None}),
            run_context(_RUN),
        ),
        "staff/privacy/exports.html": (
            exports_context(form={}, can_download=False),
            exports_context(
                form={"from": "<x>", "to": "2026-01-01"},
                can_download=True,
                errors={"from": "from: a date like 2026-01-31"},
            ),
        ),
    }
)
# The member portal: donations and my data.
from admin_ui.portal.donations import donations_context  # noqa: E402
from admin_ui.portal.mydata import mydata_context  # noqa: E402

_MY_REQUEST = {
    "id": "dsr_1",
    "type": "access",
    "state": "done",
    "received_at": _AT,
    "due_at": _AT,
    "extension": {"months": 1, "reason": "busy", "customer_notified_at": _AT},
    "rejection_reason": "<b>no</b>",
    "export_available": True,
}
_DONATIONS = portal_service.DonationOptions(
    [portal_service.Charity("charity", "Red <b> Cross")],
    500,
    [
        {
            "id": "don_1",
            "charity": "charity",
            "points": -100,
            "anonymous": True,
            "status": "accepted",
            "receipt": {"number": "1"},
            "created_at": _AT,
        },
        {
            "id": "don_2",
            "charity": "charity",
            "points": -5,
            "anonymous": False,
            "status": "pending",
            "receipt": None,
            "created_at": _AT,
        },
    ],
)
SAMPLES["portal/mydata.html"] = (
    mydata_context(None),
    mydata_context(
        [_MY_REQUEST, {**_MY_REQUEST, "id": "dsr_2", "type": "erasure", "state": "received"}],
        form_key="k" * 36,
        errors={"confirm": "Tick <b>"},
        notice="Filed.",
        refusal="No.",
    ),
)
SAMPLES["portal/donate.html"] = (
    donations_context(None),
    donations_context(
        _DONATIONS,
        form={"charity": "charity", "points": "x<b>", "anonymous": "yes"},
        errors={"points": "Enter a whole number of points."},
        refusal="No consent.",
        notice="Thanks.",
        form_key="k" * 36,
    ),
)
# The member portal: linking with a partner.
from admin_ui.portal.partners import partners_context  # noqa: E402
from node.services.links import IssuedLinkCode  # noqa: E402

_LINKS = portal_service.LinkOptions(
    [("bookshop", "Bog <b> laden")],
    [{"partner": "bookshop", "status": "active", "since": _AT, "name": "Bog <b> laden"}],
)
SAMPLES["portal/partners.html"] = (
    partners_context(None),
    partners_context(
        _LINKS,
        form={"partner": "bookshop", "link_code": "<x>", "subject": ""},
        errors={"subject": "Enter <b>"},
        refusal="No consent.",
        notice="Asked.",
        issued=IssuedLinkCode("Lcode<b>", "sub<b>", "bookshop", datetime(2026, 3, 1, tzinfo=UTC)),
        issued_name="Bog <b> laden",
        form_key="k" * 36,
    ),
)
# The member portal: partner rewards.
from admin_ui.portal.rewards import rewards_context  # noqa: E402
from node.services.partner_rewards import OfferItem, PartnerOffer  # noqa: E402

_OFFER = OfferItem(
    reward_id="book", name="Book <b>", points=80, stock_left=None, available_until=None
)
_REWARDS = portal_service.PartnerRewardOptions(
    [("bookshop", "Bog <b> laden")],
    "bookshop",
    [PartnerOffer(_OFFER, "bookshop", 192)],
    "down",
    [
        {
            "partner": "bookshop",
            "reward_id": "book",
            "name": "Book <b>",
            "points": -192,
            "status": "accepted",
            "voucher": {"code": "V<b>"},
        }
    ],
    808,
)
SAMPLES["portal/rewards.html"] = (
    rewards_context(None),
    rewards_context(_REWARDS, form_key="k" * 36, notice="On its way.", refusal="No."),
)

# The operator's pages keep their samples in one module per page group.
from tests.admin_ui import samples_customers, samples_partners, samples_program  # noqa: E402

for _group in (samples_program, samples_customers, samples_partners):
    SAMPLES.update(_group.SAMPLES)

# Long actions: a background job's status page (issue 10).
from admin_ui.staff.job_status import job_context  # noqa: E402

_JOB = {
    "id": "job_1<b>",
    "kind": "ledger_csv",
    "params": {"first": "2026-01-01", "last": "2026-12-31<b>"},
    "state": "done",
    "done": 12345,
    "total": 12345,
    "created_at": datetime(2026, 3, 1, tzinfo=UTC),
    "finished_at": datetime(2026, 3, 1, 0, 5, tzinfo=UTC),
    "error": None,
    "result_ref": None,
    "has_file": True,
    "result_name": "ledger<b>.csv",
}
SAMPLES["staff/job.html"] = (
    job_context(
        {**_JOB, "kind": "retention", "params": {}, "state": "queued", "done": 0, "total": 0},
        result_url=None,
        back_url="/admin/",
    ),
    job_context(_JOB, result_url="/admin/privacy/exports/jobs/job_1/file", back_url="/admin/"),
)

# My account, and an operator's changes to staff users (issue 10).
from admin_ui.staff.account import account_context  # noqa: E402
from node.services.staff_account import TotpEnrolment  # noqa: E402

_ENROLMENT = TotpEnrolment(
    "JBSWY3DPEHPK3PXP",
    "otpauth://totp/Konsort:kari%3Cb%3E?secret=JBSWY3DPEHPK3PXP&issuer=Konsort",
    "cGVuZGluZzxiPg==",
    '<svg width="8" height="8" class="segno"><path d="M0 0h8v8h-8z"/></svg>',
)
SAMPLES["staff/account.html"] = (
    account_context(
        StaffAccount("stf_3", "ole", "Ole", "auditor", "active", False),
        role_label="",
        can_manage=False,
        may_disable_totp=True,
    ),
    account_context(
        StaffAccount("stf_1", "kari<b>", "Kari <b>", "privacy_officer", "active", False),
        role_label="Privacy officer",
        can_manage=True,
        may_disable_totp=False,
        enrolment=_ENROLMENT,
        errors={"code": "No <b>.", "current_password": "Wrong.", "totp": "Start again."},
        done="password",
    ),
)
SAMPLES["staff/users.html"] = (
    SAMPLES["staff/users.html"][0],
    users_context(
        [
            ACCOUNT,
            StaffAccount("stf_2", "ole", "Ole", "auditor", "disabled", False),
            StaffAccount("stf_4", "nina<b>", "Nina <b>", "privacy_officer", "active", True),
        ],
        can_manage=True,
        form={"username": "nina", "display_name": "Nina <b>", "role": "auditor"},
        errors={"password": "password: at least 12 characters"},
        created="ole",
        self_id="stf_1",
        changed="Changed <b>.",
        manage_error="No <b>.",
        reset={
            "username": "nina<b>",
            "uri": _ENROLMENT.uri,
            "secret": _ENROLMENT.secret,
            "qr_svg": _ENROLMENT.qr_svg,
        },
    ),
)

# The member portal: paged history (issue 10).
from admin_ui.portal.history import history_context  # noqa: E402

SAMPLES["portal/history.html"] = (
    history_context([], next_cursor=None, first_page=True),
    history_context(_OVERVIEW.history, next_cursor="YmVmb3JlOjQy<b>&x", first_page=False),
)
