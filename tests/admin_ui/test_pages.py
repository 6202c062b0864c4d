"""The admin UI over HTTP: sign-in required everywhere, the permission table walked,
CSRF, security headers, languages, forms and the personal-data audit mechanism."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from admin_ui import permissions
from admin_ui.app import staff_app
from admin_ui.pages import Page, PageCall, View
from admin_ui.staff import STAFF_PAGES
from node.app import create_app
from node.clock import ManualClock
from node.db import Database
from node.secrets import NodeSecrets
from node.services import audit, staff
from node.settings import Settings
from node.store.staff_models import ROLES
from tests.admin_ui.conftest import BASE, PASSWORD, SAME_ORIGIN, sign_in

STAFF_ONLY = [page for page in STAFF_PAGES if page.auth == "staff"]
SAMPLE_PATH = {"kpi": "enrolments"}
SAMPLE_PATH["request_id"] = "req_none"  # the privacy pages
SAMPLE_PATH.update(purpose="marketing", run_id="ret_none")  # consent, retention pages
SAMPLE_PATH.update(message_id="msg_none", period_id="stl_none")  # partners, settlement pages
SAMPLE_PATH.update(customer_id="cus_none", key_id="key_none")  # customers, API keys pages
SAMPLE_PATH.update(version="1", endpoint_id="whk_none")  # the program pages
SAMPLE_PATH["job_id"] = "job_none"  # long actions (background jobs)
SAMPLE_PATH["username"] = "nobody"  # an operator's changes to staff users


def concrete(path: str) -> str:
    return "/admin" + re.sub(r"\{(\w+)\}", lambda m: SAMPLE_PATH[m.group(1)], path)


@pytest.mark.parametrize("page", STAFF_ONLY, ids=lambda p: f"{p.methods[0]} {p.path}")
def test_every_staff_route_requires_sign_in(ui: TestClient, page: Page) -> None:
    method = page.methods[0]
    response = ui.request(method, concrete(page.path), headers=SAME_ORIGIN)
    if method == "GET":
        assert response.status_code == 303
        assert response.headers["location"].startswith("/admin/login?next=")
    else:
        assert response.status_code == 401


def test_a_forged_or_foreign_cookie_is_not_a_session(ui: TestClient) -> None:
    ui.cookies.set("konsort_staff", "made-up.signature", domain="cafe.test", path="/admin")
    assert ui.get("/admin/dashboard").status_code == 303


def test_permission_table_auditors_only_read() -> None:
    assert set(permissions.PERMISSIONS) == set(ROLES)
    assert all(action.endswith(".view") for action in permissions.PERMISSIONS["auditor"])
    declared = {page.action for page in STAFF_ONLY}
    assert declared <= set(permissions.ACTIONS)
    assert set(permissions.ACTIONS) <= declared, "an action in the table that no page uses"


@pytest.mark.parametrize("role", ROLES)
def test_each_role_reaches_exactly_its_routes(
    ui: TestClient, staff_users: dict[str, staff.StaffAccount], role: str
) -> None:
    sign_in(ui, staff_users[role].username)
    for page in STAFF_ONLY:
        method = page.methods[0]
        data = {"username": "x", "password": "y", "role": "auditor"} if method == "POST" else None
        response = ui.request(method, concrete(page.path), headers=SAME_ORIGIN, data=data)
        if permissions.allowed(role, page.action or ""):
            assert response.status_code not in (401, 403), (role, page.path, method)
        else:
            assert response.status_code == 403, (role, page.path, method)
            assert "Your role may not open this page." in response.text


def test_navigation_shows_only_the_roles_pages(
    ui: TestClient, staff_users: dict[str, staff.StaffAccount]
) -> None:
    sign_in(ui, "privacy-officer")
    home = ui.get("/admin/")
    assert home.status_code == 200
    assert 'href="/admin/dashboard"' not in home.text
    ui.cookies.clear()
    sign_in(ui, "operator")
    assert 'href="/admin/dashboard"' in ui.get("/admin/").text


def test_sign_in_page_keeps_the_username_and_says_what_is_wrong(
    ui: TestClient, staff_users: dict[str, staff.StaffAccount]
) -> None:
    response = ui.post(
        "/admin/login", data={"username": "operator", "password": "nope"}, headers=SAME_ORIGIN
    )
    assert response.status_code == 401
    assert "Wrong username, password or code." in response.text
    assert 'value="operator"' in response.text
    assert "nope" not in response.text


def test_throttling_says_how_long_to_wait(
    ui: TestClient, staff_users: dict[str, staff.StaffAccount], settings: Settings
) -> None:
    for _ in range(settings.admin_login_max_attempts):
        ui.post("/admin/login", data={"username": "auditor", "password": "x"}, headers=SAME_ORIGIN)
    response = ui.post(
        "/admin/login", data={"username": "auditor", "password": PASSWORD}, headers=SAME_ORIGIN
    )
    assert response.status_code == 429
    assert "Too many failed sign-ins. Wait 15 minutes and try again." in response.text


def test_sign_in_returns_to_the_page_asked_for(
    ui: TestClient, staff_users: dict[str, staff.StaffAccount]
) -> None:
    response = ui.post(
        "/admin/login",
        data={"username": "operator", "password": PASSWORD, "next": "/admin/users"},
        headers=SAME_ORIGIN,
    )
    assert response.headers["location"] == "/admin/users"
    ui.cookies.clear()
    response = ui.post(
        "/admin/login",
        data={"username": "operator", "password": PASSWORD, "next": "//evil.example/"},
        headers=SAME_ORIGIN,
    )
    assert response.headers["location"] == "/admin/"


def test_sign_out_ends_the_session_server_side(
    ui: TestClient, staff_users: dict[str, staff.StaffAccount]
) -> None:
    sign_in(ui, "operator")
    cookie = ui.cookies.get("konsort_staff")
    assert ui.get("/admin/dashboard").status_code == 200
    response = ui.post("/admin/logout", headers=SAME_ORIGIN)
    assert response.status_code == 303
    ui.cookies.set("konsort_staff", cookie or "", domain="cafe.test", path="/admin")
    assert ui.get("/admin/dashboard").status_code == 303


def test_session_cookie_attributes(
    ui: TestClient, staff_users: dict[str, staff.StaffAccount]
) -> None:
    response = ui.post(
        "/admin/login", data={"username": "operator", "password": PASSWORD}, headers=SAME_ORIGIN
    )
    cookie = response.headers["set-cookie"].lower()
    for attribute in ("httponly", "samesite=strict", "secure", "path=/admin"):
        assert attribute in cookie


@pytest.mark.parametrize(
    ("headers", "allowed"),
    [
        ({"Sec-Fetch-Site": "same-origin"}, True),
        ({"Sec-Fetch-Site": "cross-site", "Origin": BASE}, False),
        ({"Sec-Fetch-Site": "same-site"}, False),
        ({"Origin": BASE}, True),
        ({"Origin": "https://evil.example"}, False),
        ({"Origin": "http://cafe.test"}, False),
        ({"Referer": f"{BASE}/admin/login"}, True),
        ({"Referer": "https://evil.example/form"}, False),
        ({}, False),
    ],
)
def test_csrf_check_on_unsafe_requests(
    ui: TestClient,
    staff_users: dict[str, staff.StaffAccount],
    headers: dict[str, str],
    allowed: bool,
) -> None:
    response = ui.post(
        "/admin/login", data={"username": "operator", "password": PASSWORD}, headers=headers
    )
    if allowed:
        assert response.status_code == 303
    else:
        assert response.status_code == 403
        assert "CSRF" in response.text
        assert "konsort_staff" not in response.headers.get("set-cookie", "")


def test_csrf_refuses_a_forged_post_with_a_valid_session(
    ui: TestClient, staff_users: dict[str, staff.StaffAccount]
) -> None:
    sign_in(ui, "operator")
    forged = ui.post(
        "/admin/users",
        data={"username": "mallory", "role": "operator", "password": "long enough secret"},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert forged.status_code == 403
    assert [user.username for user in staff.list_users(ui.app.state.node.db)] == [  # type: ignore[attr-defined]
        "auditor",
        "operator",
        "privacy-officer",
    ]


def test_security_headers_on_the_ui_but_not_the_json_api(ui: TestClient) -> None:
    page = ui.get("/admin/login")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "same-origin"
    assert "<script" not in page.text and " style=" not in page.text
    api = ui.get("/healthz")
    assert "content-security-policy" not in api.headers


def test_static_files_are_cached_long(ui: TestClient) -> None:
    page = ui.get("/admin/login").text
    href = re.search(r'href="(/admin/static/konsort\.css\?v=\w+)"', page)
    assert href is not None
    response = ui.get(href.group(1))
    assert response.status_code == 200
    assert "max-age=31536000" in response.headers["cache-control"]


@pytest.mark.parametrize(
    ("accept", "cookie", "expected"),
    [
        ("da-DK,da;q=0.9,en;q=0.5", None, "Log ind"),
        ("nb-NO,nb;q=0.9", None, "Logg inn"),
        ("no", None, "Logg inn"),
        ("fr-FR, en;q=0.1", None, "Sign in"),
        ("", None, "Sign in"),
        ("da", "en", "Sign in"),
        ("en", "nb", "Logg inn"),
    ],
)
def test_language_from_accept_language_and_the_switch(
    ui: TestClient, accept: str, cookie: str | None, expected: str
) -> None:
    if cookie:
        ui.cookies.set("konsort_lang", cookie, domain="cafe.test", path="/")
    page = ui.get("/admin/login", headers={"Accept-Language": accept})
    assert f"<h1>{expected}</h1>" in page.text


def test_the_language_switch_sets_a_cookie_and_goes_back(ui: TestClient) -> None:
    response = ui.post(
        "/admin/language", data={"lang": "da", "next": "/admin/login"}, headers=SAME_ORIGIN
    )
    assert response.status_code == 303 and response.headers["location"] == "/admin/login"
    assert '<html lang="da">' in ui.get("/admin/login").text


def test_dashboard_numbers_are_formatted_for_the_locale(
    ui: TestClient, staff_users: dict[str, staff.StaffAccount], operator_api: object
) -> None:
    sign_in(ui, "operator")
    english = ui.get("/admin/dashboard?period=year&from=2020-01-01&to=2030-01-01")
    assert english.status_code == 200
    assert "DKK" in english.text or "kr" in english.text
    danish = ui.get(
        "/admin/dashboard?period=year&from=2020-01-01&to=2030-01-01",
        headers={"Accept-Language": "da"},
    )
    assert "Indmeldelser" in danish.text
    assert "kr." in danish.text  # 1.234,50 kr. style money


def test_dashboard_form_keeps_input_and_names_the_field(
    ui: TestClient, staff_users: dict[str, staff.StaffAccount]
) -> None:
    sign_in(ui, "auditor")
    response = ui.get("/admin/dashboard?period=month&from=2026-05-01&to=2026-01-01")
    assert response.status_code == 422
    assert 'value="2026-05-01"' in response.text
    assert 'id="error-to"' in response.text and "must be after from" in response.text
    bad = ui.get("/admin/dashboard?period=month&from=yesterday")
    assert bad.status_code == 422 and 'id="error-from"' in bad.text


def test_charts_are_svg_images_without_script(
    ui: TestClient, staff_users: dict[str, staff.StaffAccount]
) -> None:
    sign_in(ui, "operator")
    page = ui.get("/admin/dashboard")
    sources = re.findall(r'<img src="([^"]+)"', page.text)
    assert len(sources) == 7
    chart = ui.get(sources[0].replace("&amp;", "&"))
    assert chart.status_code == 200 and chart.headers["content-type"] == "image/svg+xml"
    assert chart.text.startswith("<svg") and "<script" not in chart.text
    assert "script-src" not in chart.headers["content-security-policy"]
    assert ui.get("/admin/charts/nonsense.svg").status_code == 404


def test_operator_creates_a_user_and_the_form_keeps_input_on_error(
    ui: TestClient, staff_users: dict[str, staff.StaffAccount]
) -> None:
    sign_in(ui, "operator")
    bad = ui.post(
        "/admin/users",
        data={"username": "nina", "display_name": "Nina", "role": "auditor", "password": "short"},
        headers=SAME_ORIGIN,
    )
    assert bad.status_code == 422
    assert 'value="nina"' in bad.text and 'value="Nina"' in bad.text
    assert 'id="error-password"' in bad.text
    assert '<option value="auditor" selected>' in bad.text
    good = ui.post(
        "/admin/users",
        data={"username": "nina", "display_name": "Nina", "role": "auditor", "password": PASSWORD},
        headers=SAME_ORIGIN,
    )
    assert good.status_code == 303
    assert "nina" in ui.get(good.headers["location"]).text
    ui.cookies.clear()
    sign_in(ui, "nina")


@pytest.fixture
def audited_ui(
    settings: Settings, db: Database, clock: ManualClock, node_secrets: NodeSecrets
) -> Iterator[TestClient]:
    """A node with one extra page that shows a customer's data."""

    async def customer_card(call: PageCall) -> View:
        return View({"account": call.staff, "role_label": "x"}, customer_id="cus_123")

    pages = [
        *STAFF_PAGES,
        Page(
            "/test/customer-card",
            "customer_card",
            customer_card,
            action="home.view",
            template="staff/home.html",
            personal_data=True,
            purpose="customer_service",
        ),
    ]
    app = create_app(settings, clock=clock, secrets=node_secrets, database=db, run_jobs=False)
    outer = Starlette(routes=[Mount("/admin", app=staff_app(app.state.node, pages)), *app.routes])
    outer.state.node = app.state.node
    with TestClient(outer, base_url=BASE, follow_redirects=False) as client:
        yield client


def test_pages_showing_personal_data_write_one_audit_entry(
    audited_ui: TestClient, db: Database, staff_users: dict[str, staff.StaffAccount]
) -> None:
    sign_in(audited_ui, "auditor")
    assert audited_ui.get("/admin/test/customer-card").status_code == 200
    entries = audit.latest_entries(db, customer_id="cus_123", limit=10)
    assert [(e["actor"], e["action"], e["purpose"]) for e in entries] == [
        (f"staff:{staff_users['auditor'].id}", "page.view", "customer_service")
    ]
    assert audit.latest_entries(db, customer_id=None, limit=10) == entries
