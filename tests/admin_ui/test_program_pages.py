"""The operator's program pages over HTTP: who may open them, editing with errors
next to the field, new versions with the staff author, the history's diff, the
rewards' stock, webhooks and CSRF."""

from __future__ import annotations

import re
import uuid

import pytest
from starlette.testclient import TestClient

from admin_ui.staff.program_form import form_values
from node.clock import ManualClock
from node.db import Database
from node.program.config import parse_program
from node.services import program, staff, webhooks
from node.services.apikeys import create_api_key
from node.settings import Settings
from tests.admin_ui.conftest import SAME_ORIGIN, sign_in

VIEW_PAGES = ["/admin/program", "/admin/program/rewards", "/admin/program/history"]
VIEW_PAGES += ["/admin/program/webhooks"]
POSTS = ["/admin/program/edit", "/admin/program/rewards/stock", "/admin/program/webhooks/add"]


def _form(settings: Settings, db: Database, clock: ManualClock, **changes: str) -> dict[str, str]:
    current = program.current_program(db, settings, now=clock.now()).program
    return {**form_values(current), "key": uuid.uuid4().hex, **changes}


def _versions(db: Database, settings: Settings) -> list[program.ProgramChange]:
    return program.program_history(db, settings, before=None, limit=50)


def _buy(ui: TestClient, db: Database, clock: ManualClock, amount: int) -> int:
    auth = {"Authorization": f"Bearer {create_api_key(db, name='till', now=clock.now()).token}"}
    created = ui.post(
        "/api/v1/customers",
        json={"name": "Ada", "email": f"{uuid.uuid4().hex}@example.org"},
        headers={**auth, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert created.status_code == 201, created.text
    bought = ui.post(
        f"/api/v1/customers/{created.json()['id']}/purchases",
        json={"amount": amount},
        headers={**auth, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert bought.status_code in (200, 201), bought.text
    return int(bought.json()["earning"]["points"])


@pytest.mark.parametrize("role", ["operator", "auditor", "privacy_officer"])
def test_each_role_reaches_exactly_its_program_pages(
    ui: TestClient, staff_users: dict[str, staff.StaffAccount], role: str
) -> None:
    sign_in(ui, role.replace("_", "-"))
    views = {path: ui.get(path).status_code for path in VIEW_PAGES}
    edit = ui.get("/admin/program/edit").status_code
    posts = {path: ui.post(path, data={}, headers=SAME_ORIGIN).status_code for path in POSTS}
    if role == "operator":
        assert set(views.values()) == {200} and edit == 200
        links = re.findall(r'<a href="([^"]+)"', ui.get("/admin/program").text)
        assert {"/admin/program/edit", "/admin/program/rewards"} <= set(links)
        assert {"/admin/program/history", "/admin/program/webhooks"} <= set(links)
        assert 403 not in posts.values()
    elif role == "auditor":
        assert set(views.values()) == {200} and edit == 403
        assert set(posts.values()) == {403}
        assert "Change the program" not in ui.get("/admin/program").text
    else:
        assert set(views.values()) == {403} and edit == 403
        assert set(posts.values()) == {403}


def test_signed_out_visitors_are_sent_to_sign_in(ui: TestClient) -> None:
    response = ui.get("/admin/program/history")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/admin/login?next=")
    assert ui.post("/admin/program/edit", data={}, headers=SAME_ORIGIN).status_code == 401


def test_an_earn_rate_change_is_a_new_version_by_the_staff_member_and_earns_at_once(
    ui: TestClient,
    db: Database,
    clock: ManualClock,
    settings: Settings,
    staff_users: dict[str, staff.StaffAccount],
) -> None:
    before = _buy(ui, db, clock, 10_000)
    sign_in(ui, "operator")
    posted = _form(settings, db, clock, **{"earn.points_per_unit": "7", "comment": "Spring"})
    saved = ui.post("/admin/program/edit", data=posted, headers=SAME_ORIGIN)
    assert saved.status_code == 303 and saved.headers["location"] == "/admin/program?saved=1"
    again = ui.post("/admin/program/edit", data=posted, headers=SAME_ORIGIN)  # a double submit
    assert again.status_code == 303 and again.headers["location"].endswith("saved=1")
    [change] = _versions(db, settings)
    assert change.actor == f"staff:{staff_users['operator'].id}"
    assert change.changed == ["earn.points_per_unit"] and change.comment == "Spring"
    page = ui.get("/admin/program?saved=1")
    assert "Version 1 saved" in page.text
    assert re.search(r'id="earn-rate">7<', page.text)
    assert _buy(ui, db, clock, 10_000) == 7 * before


def test_a_bad_figure_is_shown_next_to_its_field_and_the_form_keeps_the_input(
    ui: TestClient,
    db: Database,
    clock: ManualClock,
    settings: Settings,
    staff_users: dict[str, staff.StaffAccount],
) -> None:
    sign_in(ui, "operator")
    typed = _form(settings, db, clock, **{"earn.points_per_unit": "lots", "expiry.days": "400"})
    page = ui.post("/admin/program/edit", data=typed, headers=SAME_ORIGIN)
    assert page.status_code == 422
    assert 'id="error-earn.points_per_unit"' in page.text
    assert "Enter a whole number, 0 or more." in page.text
    assert 'value="lots"' in page.text and 'value="400"' in page.text

    too_high = _form(settings, db, clock, **{"earn.points_per_unit": "20000"})
    page = ui.post("/admin/program/edit", data=too_high, headers=SAME_ORIGIN)
    assert page.status_code == 422
    error = re.search(r'<p class="error" id="error-earn.points_per_unit">([^<]*)</p>', page.text)
    assert error is not None and "10000" in error.group(1)
    assert 'value="20000"' in page.text

    bad_comment = _form(settings, db, clock, comment="one\x07two")
    page = ui.post("/admin/program/edit", data=bad_comment, headers=SAME_ORIGIN)
    assert page.status_code == 422 and 'id="error-comment"' in page.text
    assert _versions(db, settings) == []


def test_an_error_inside_a_section_is_shown_next_to_that_section(
    ui: TestClient,
    db: Database,
    clock: ManualClock,
    settings: Settings,
    staff_users: dict[str, staff.StaffAccount],
) -> None:
    sign_in(ui, "operator")
    rewards = '[{"code": "cake", "name": "Cake", "points": 300, "tiers": ["gold"]}]'
    page = ui.post(
        "/admin/program/edit",
        data=_form(settings, db, clock, rewards=rewards),
        headers=SAME_ORIGIN,
    )
    assert page.status_code == 422
    error = re.search(r'id="error-rewards">([^<]*)<', page.text)
    assert error is not None and "rewards.0.tiers" in error.group(1) and "gold" in error.group(1)
    assert "&#34;gold&#34;" in page.text or "&quot;gold&quot;" in page.text  # the typed JSON
    broken = ui.post(
        "/admin/program/edit",
        data=_form(settings, db, clock, campaigns="[{"),
        headers=SAME_ORIGIN,
    )
    assert broken.status_code == 422 and 'id="error-campaigns"' in broken.text
    assert _versions(db, settings) == []


def test_the_history_lists_versions_and_shows_what_changed(
    ui: TestClient,
    db: Database,
    clock: ManualClock,
    settings: Settings,
    staff_users: dict[str, staff.StaffAccount],
) -> None:
    program.update_program(
        db, settings, program=parse_program({}), actor="till", comment=None, now=clock.now()
    )
    sign_in(ui, "operator")
    changed = _form(settings, db, clock, **{"earn.points_per_unit": "3", "expiry.days": "200"})
    assert ui.post("/admin/program/edit", data=changed, headers=SAME_ORIGIN).status_code == 303
    sign_in(ui, "auditor")
    history = ui.get("/admin/program/history")
    assert history.status_code == 200
    assert "Version 2" in history.text and "Version 1" in history.text
    assert f"operator (staff:{staff_users['operator'].id})" in history.text
    assert "till" in history.text
    diff = ui.get("/admin/program/history/2")
    assert diff.status_code == 200
    rows = re.findall(r"<tr><th scope=\"row\"><code>([^<]*)</code></th>(.*?)</tr>", diff.text)
    assert [path for path, _ in rows] == ["earn.points_per_unit", "expiry.days"]
    assert "<code>1</code>" in rows[0][1] and "<code>3</code>" in rows[0][1]
    assert "<code>365</code>" in rows[1][1] and "<code>200</code>" in rows[1][1]
    assert ui.get("/admin/program/history/9").status_code == 404
    assert ui.get("/admin/program/history/x").status_code == 404


def test_a_forged_post_changes_nothing(
    ui: TestClient,
    db: Database,
    clock: ManualClock,
    settings: Settings,
    staff_users: dict[str, staff.StaffAccount],
) -> None:
    sign_in(ui, "operator")
    posted = _form(settings, db, clock, **{"earn.points_per_unit": "9"})
    forged = ui.post("/admin/program/edit", data=posted, headers={"Sec-Fetch-Site": "cross-site"})
    assert forged.status_code == 403 and "CSRF" in forged.text
    stock = ui.post(
        "/admin/program/rewards/stock",
        data={"reward": "cake", "stock": "1"},
        headers={"Origin": "https://evil.example"},
    )
    assert stock.status_code == 403
    assert _versions(db, settings) == []


def test_the_stock_of_a_reward_is_shown_and_set_as_a_new_version(
    ui: TestClient,
    db: Database,
    clock: ManualClock,
    settings: Settings,
    staff_users: dict[str, staff.StaffAccount],
) -> None:
    catalogue = {"rewards": [{"code": "cake", "name": "Cake", "points": 300, "stock": 5}]}
    program.update_program(
        db, settings, program=parse_program(catalogue), actor="till", comment=None, now=clock.now()
    )
    sign_in(ui, "operator")
    page = ui.get("/admin/program/rewards")
    assert page.status_code == 200 and "Cake (cake)" in page.text
    bad = ui.post(
        "/admin/program/rewards/stock",
        data={"reward": "cake", "stock": "-3", "key": "k1"},
        headers=SAME_ORIGIN,
    )
    assert bad.status_code == 422
    assert 'id="error-stock-cake"' in bad.text and 'value="-3"' in bad.text
    gone = ui.post(
        "/admin/program/rewards/stock",
        data={"reward": "pie", "stock": "3", "key": "k3"},
        headers=SAME_ORIGIN,
    )
    assert gone.status_code == 422 and "This reward is no longer in the program." in gone.text
    good = ui.post(
        "/admin/program/rewards/stock",
        data={"reward": "cake", "stock": "12", "key": "k2"},
        headers=SAME_ORIGIN,
    )
    assert good.status_code == 303
    current = program.current_program(db, settings, now=clock.now())
    assert current.version == 2 and current.program.rewards[0].stock == 12
    assert _versions(db, settings)[0].actor == f"staff:{staff_users['operator'].id}"
    assert _versions(db, settings)[0].changed == ["rewards.cake.stock"]


def test_webhooks_are_added_with_their_secret_shown_once_and_disabled(
    ui: TestClient, db: Database, staff_users: dict[str, staff.StaffAccount]
) -> None:
    sign_in(ui, "operator")
    bad = ui.post(
        "/admin/program/webhooks/add",
        data={"url": "ftp://shop.example/hook", "events": ["tier.changed"], "key": "w1"},
        headers=SAME_ORIGIN,
    )
    assert bad.status_code == 422
    assert 'id="error-url"' in bad.text and 'value="ftp://shop.example/hook"' in bad.text
    assert re.search(r'value="tier.changed" checked', bad.text)
    added = ui.post(
        "/admin/program/webhooks/add",
        data={"url": "https://shop.example/hook", "events": ["tier.changed"], "key": "w2"},
        headers=SAME_ORIGIN,
    )
    assert added.status_code == 200
    secret = re.search(r"<code>(whsec_[A-Za-z0-9+/=]+)</code>", added.text)
    assert secret is not None
    [endpoint] = webhooks.list_endpoints(db)
    assert endpoint["url"] == "https://shop.example/hook" and endpoint["enabled"]
    assert secret.group(1) not in ui.get("/admin/program/webhooks").text
    disabled = ui.post(
        f"/admin/program/webhooks/{endpoint['id']}/disable", data={}, headers=SAME_ORIGIN
    )
    assert disabled.status_code == 303
    assert webhooks.list_endpoints(db)[0]["enabled"] is False


def test_a_versions_diff_names_each_changed_field_with_both_values(
    db: Database, clock: ManualClock, settings: Settings
) -> None:
    first = {"rewards": [{"code": "cake", "name": "Cake", "points": 300}]}
    second = {
        "earn": {"points_per_unit": 2},
        "rewards": [{"code": "mug", "name": "Mug", "points": 900, "stock": 4}],
    }
    for data in (first, second):
        program.update_program(
            db, settings, program=parse_program(data), actor="till", comment=None, now=clock.now()
        )
    diff = program.version_diff(db, settings, version=2)
    values = {path: (before, after) for path, before, after in diff.values}
    assert set(values) == {"earn.points_per_unit", "rewards.cake", "rewards.mug"}
    assert values["earn.points_per_unit"] == (1, 2)
    assert values["rewards.cake"][0]["points"] == 300 and values["rewards.cake"][1] is None
    assert values["rewards.mug"][0] is None and values["rewards.mug"][1]["stock"] == 4
    assert diff.change.changed == sorted(values) and diff.change.actor == "till"
    first_diff = program.version_diff(db, settings, version=1)
    assert [path for path, _, _ in first_diff.values] == ["rewards.cake"]
