"""The operator's customers and API keys pages over HTTP, and the services behind
them (customer_search, customer_card, adjustments, apikeys)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from starlette.testclient import TestClient

from node.clock import ManualClock
from node.db import Database
from node.program import parse_program
from node.secrets import NodeSecrets
from node.services import audit, erasure, ledger, points, rewards, staff
from node.services.apikeys import create_api_key
from node.services.customer_search import member_number
from node.services.program import update_program
from node.services.verification import verify_ledger
from node.settings import Settings
from tests.admin_ui.conftest import SAME_ORIGIN, sign_in
from tests.factories import earn, make_customer

PROGRAM: dict[str, Any] = {
    "tiers": {
        "levels": [
            {"code": "member", "name": "Member", "threshold": 0},
            {"code": "gold", "name": "Gold", "threshold": 500_000},
        ]
    },
    "expiry": {"days": 365},
    "rewards": [{"code": "coffee", "name": "Free coffee", "points": 300}],
}


def _ada(db: Database, node_secrets: NodeSecrets, clock: ManualClock, **personal: Any) -> str:
    fields = {"name": "Ada Lovelace", "email": "ada@example.org", **personal}
    return make_customer(db, node_secrets, clock, **fields)


def _page_views(db: Database, customer_id: str | None) -> list[str]:
    """The pages whose views were audited for the customer (newest first)."""
    entries = audit.search_entries(db, customer_id=customer_id, action="page.view")[0]
    return [str(entry["detail"]["page"]) for entry in entries]


def _key(html: str) -> str:
    found = re.search(r'name="key" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def _adjustments(db: Database, customer_id: str) -> list[dict[str, Any]]:
    page = points.customer_history(db, customer_id=customer_id, limit=100, cursor=None)
    return [item for item in page.items if item["kind"] == "adjustment"]


@pytest.mark.parametrize(
    ("how", "query"),
    [
        ("email", "  ADA@example.org "),
        ("customer id", "{id}"),
        ("member number", "{number_lower}"),
        ("member number", "{number}"),
    ],
)
def test_a_customer_is_found_each_way_and_the_result_is_audited(
    ui: TestClient,
    db: Database,
    clock: ManualClock,
    node_secrets: NodeSecrets,
    staff_users: dict[str, staff.StaffAccount],
    how: str,
    query: str,
) -> None:
    ada = _ada(db, node_secrets, clock)
    make_customer(db, node_secrets, clock, name="Bob", email="bob@example.org")
    number = member_number(ada)
    assert re.fullmatch(r"[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}", number)
    sign_in(ui, "operator")
    form = ui.get("/admin/customers")
    assert form.status_code == 200 and "Member number, customer id or email" in form.text
    assert _page_views(db, None) == []  # the empty form shows no one
    typed = query.format(id=ada, number=number, number_lower=number.lower().replace("-", " "))
    found = ui.post("/admin/customers/search", data={"q": typed}, headers=SAME_ORIGIN)
    assert found.status_code == 200, found.text
    assert f"Found by {how}" in found.text
    assert "Ada Lovelace" in found.text and "Bob" not in found.text
    assert number in found.text and f"/admin/customers/{ada}" in found.text
    entries = audit.search_entries(db, customer_id=ada)[0]
    assert [(e["action"], e["detail"]) for e in entries] == [
        ("page.view", {"page": "customers_search"})
    ]
    assert entries[0]["actor"] == f"staff:{staff_users['operator'].id}"
    assert entries[0]["purpose"] == "customer_service"


def test_no_match_keeps_what_was_typed_and_says_so(
    ui: TestClient,
    db: Database,
    clock: ManualClock,
    node_secrets: NodeSecrets,
    staff_users: dict[str, staff.StaffAccount],
) -> None:
    _ada(db, node_secrets, clock)
    sign_in(ui, "operator")
    for typed, status in (
        ("nobody@example.org", 404),
        ("cus_0123456789abcdef", 404),
        ("0000-0000-0000", 404),
        ("not a number", 422),
        ("", 422),
    ):
        answer = ui.post("/admin/customers/search", data={"q": typed}, headers=SAME_ORIGIN)
        assert answer.status_code == status, typed
        assert 'aria-invalid="true"' in answer.text
        assert f'value="{typed}"' in answer.text
        assert "Ada" not in answer.text
    assert (
        "No customer matches this."
        in ui.post(
            "/admin/customers/search", data={"q": "nobody@example.org"}, headers=SAME_ORIGIN
        ).text
    )
    # Each search was recorded, naming no customer since none matched.
    assert _page_views(db, None).count("customers_search") == 6


def test_the_customer_page_shows_points_lots_tier_history_and_more_and_is_audited(
    ui: TestClient,
    db: Database,
    settings: Settings,
    clock: ManualClock,
    node_secrets: NodeSecrets,
    staff_users: dict[str, staff.StaffAccount],
) -> None:
    update_program(
        db, settings, program=parse_program(PROGRAM), actor="t", comment=None, now=clock.now()
    )
    ada = _ada(db, node_secrets, clock, phone="+45 12 34 56 78")
    earn(db, settings, clock, ada, 100_000)  # 1000 points
    rewards.issue_voucher(
        db,
        settings,
        customer_id=ada,
        reward_code="coffee",
        idempotency_key="v1",
        now=clock.now(),
    )
    sign_in(ui, "operator")
    page = ui.get(f"/admin/customers/{ada}")
    assert page.status_code == 200, page.text
    text = page.text
    assert "<h1>Ada Lovelace</h1>" in text and "ada@example.org" in text and "+45 12 34" in text
    assert member_number(ada) in text
    assert '<strong id="points">700</strong>' in text
    assert "Points by lot, soonest expiry first" in text
    expires = clock.now().replace(year=clock.now().year + 1)
    assert f"{expires:%Y}" in text  # the lot expires a year after earning
    assert '<p id="tier">Member' in text and "more to reach Gold" in text
    assert "Purchase" in text and "Transactions, newest first" in text
    assert "Free coffee" in text and "Vouchers, newest first" in text
    voucher = rewards_code(db, settings, clock, ada)
    assert voucher not in text and voucher.split("-")[-1] in text  # masked
    assert "No links with partners." in text and "Consents" in text
    assert "Adjust points" in text
    ui.get(f"/admin/customers/{ada}")
    assert _page_views(db, ada) == ["customer", "customer"]
    assert ui.get("/admin/customers/cus_nobody").status_code == 404


def rewards_code(db: Database, settings: Settings, clock: ManualClock, customer_id: str) -> str:
    from node.services import vouchers

    page = vouchers.customer_vouchers(
        db, settings, customer_id=customer_id, limit=1, cursor=None, now=clock.now()
    )
    return str(page.items[0]["code"])


def test_history_is_paged_newest_first(
    ui: TestClient,
    db: Database,
    settings: Settings,
    clock: ManualClock,
    node_secrets: NodeSecrets,
    staff_users: dict[str, staff.StaffAccount],
) -> None:
    ada = _ada(db, node_secrets, clock)
    for number in range(25):
        earn(db, settings, clock, ada, 100 * (number + 1), key=f"order-{number}")
    sign_in(ui, "operator")
    first = ui.get(f"/admin/customers/{ada}")
    rows = re.findall(r"<tr><td>[^<]*</td><td>Purchase</td>", first.text)
    assert len(rows) == 20 and "Newest</a>" not in first.text
    older = re.search(r'href="([^"]+\?cursor=[^"]+)" rel="next"', first.text)
    assert older is not None
    second = ui.get(older.group(1))
    assert second.status_code == 200
    assert len(re.findall(r"<tr><td>[^<]*</td><td>Purchase</td>", second.text)) == 5
    assert 'rel="next"' not in second.text and "Newest</a>" in second.text
    # The oldest purchase (1 point) is on the second page, the newest (25) on the first.
    assert '<td class="num">1</td>' in second.text and '<td class="num">25</td>' in first.text
    assert ui.get(f"/admin/customers/{ada}?cursor=bogus").status_code == 200
    assert _page_views(db, ada).count("customer") == 3


def test_an_adjustment_posts_once_even_when_sent_twice(
    ui: TestClient,
    db: Database,
    settings: Settings,
    clock: ManualClock,
    node_secrets: NodeSecrets,
    staff_users: dict[str, staff.StaffAccount],
) -> None:
    ada = _ada(db, node_secrets, clock)
    sign_in(ui, "operator")
    key = _key(ui.get(f"/admin/customers/{ada}").text)
    form = {"points": "150", "reason": "Goodwill: cold coffee", "key": key}
    first = ui.post(f"/admin/customers/{ada}/adjustments", data=form, headers=SAME_ORIGIN)
    again = ui.post(f"/admin/customers/{ada}/adjustments", data=form, headers=SAME_ORIGIN)
    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == f"/admin/customers/{ada}?done=adjusted"
    posted = _adjustments(db, ada)
    assert [(p["points"], p["reference"]) for p in posted] == [(150, "Goodwill: cold coffee")]
    assert ledger.customer_balance(db, customer_id=ada, now=clock.now()).points == 150
    shown = ui.get(first.headers["location"]).text
    assert "The adjustment is posted." in shown and "Manual adjustment" in shown
    assert "Goodwill: cold coffee" in shown
    entries = audit.search_entries(db, customer_id=ada, action="points.adjust")[0]
    assert len(entries) == 1 and entries[0]["detail"]["points"] == 150
    assert entries[0]["actor"] == f"staff:{staff_users['operator'].id}"
    take = {"points": "-100", "reason": "Posted twice at the till", "key": _key(shown)}
    took = ui.post(f"/admin/customers/{ada}/adjustments", data=take, headers=SAME_ORIGIN)
    assert took.status_code == 303
    assert ledger.customer_balance(db, customer_id=ada, now=clock.now()).points == 50
    assert verify_ledger(db).ok


def test_an_adjustment_needs_a_reason_and_a_whole_number(
    ui: TestClient,
    db: Database,
    clock: ManualClock,
    node_secrets: NodeSecrets,
    staff_users: dict[str, staff.StaffAccount],
) -> None:
    ada = _ada(db, node_secrets, clock)
    sign_in(ui, "operator")
    key = _key(ui.get(f"/admin/customers/{ada}").text)
    url = f"/admin/customers/{ada}/adjustments"
    no_reason = ui.post(url, data={"points": "40", "reason": "  ", "key": key}, headers=SAME_ORIGIN)
    assert no_reason.status_code == 422
    assert "Say why (at most 200 characters)." in no_reason.text
    assert 'id="field-reason"' in no_reason.text and 'aria-describedby="error-reason"' in (
        no_reason.text
    )
    assert 'value="40"' in no_reason.text and _key(no_reason.text) == key
    for typed in ("", "1.5", "zero", "0", "2000000"):
        bad = ui.post(url, data={"points": typed, "reason": "Why", "key": key}, headers=SAME_ORIGIN)
        assert bad.status_code == 422, typed
        assert "Type a whole number of points" in bad.text
    assert _adjustments(db, ada) == []
    # Refusals stored nothing: the same form key still posts once it is right.
    fixed = ui.post(url, data={"points": "40", "reason": "Why", "key": key}, headers=SAME_ORIGIN)
    assert fixed.status_code == 303 and len(_adjustments(db, ada)) == 1


def test_a_negative_adjustment_cannot_overdraw(
    ui: TestClient,
    db: Database,
    settings: Settings,
    clock: ManualClock,
    node_secrets: NodeSecrets,
    staff_users: dict[str, staff.StaffAccount],
) -> None:
    ada = _ada(db, node_secrets, clock)
    earn(db, settings, clock, ada, 10_000)  # 100 points
    sign_in(ui, "operator")
    key = _key(ui.get(f"/admin/customers/{ada}").text)
    refused = ui.post(
        f"/admin/customers/{ada}/adjustments",
        data={"points": "-101", "reason": "Fraud check", "key": key},
        headers=SAME_ORIGIN,
    )
    assert refused.status_code == 409
    assert "The balance does not cover this many points." in refused.text
    assert 'value="-101"' in refused.text and 'value="Fraud check"' in refused.text
    assert ledger.customer_balance(db, customer_id=ada, now=clock.now()).points == 100
    assert _adjustments(db, ada) == []
    assert audit.search_entries(db, customer_id=ada, action="points.adjust")[0] == []
    # The refused form's page showed Ada's data too: audited like the page.
    assert _page_views(db, ada) == ["customer_adjust", "customer"]


def test_an_erased_customer_shows_as_erased_with_no_personal_data(
    ui: TestClient,
    db: Database,
    clock: ManualClock,
    node_secrets: NodeSecrets,
    staff_users: dict[str, staff.StaffAccount],
) -> None:
    ada = _ada(db, node_secrets, clock)
    with db.transaction() as session:
        erasure.shred_personal_data_txn(session=session, customer_id=ada, now=clock.now())
    sign_in(ui, "operator")
    page = ui.get(f"/admin/customers/{ada}")
    assert page.status_code == 200
    assert "personal data was erased" in page.text and "erased" in page.text
    assert "Ada" not in page.text and "example.org" not in page.text
    assert "Adjust points" not in page.text
    found = ui.post("/admin/customers/search", data={"q": member_number(ada)}, headers=SAME_ORIGIN)
    assert found.status_code == 200 and "Ada" not in found.text and "erased" in found.text
    gone = ui.post("/admin/customers/search", data={"q": "ada@example.org"}, headers=SAME_ORIGIN)
    assert gone.status_code == 404
    assert ui.post(
        f"/admin/customers/{ada}/adjustments",
        data={"points": "5", "reason": "x", "key": "k"},
        headers=SAME_ORIGIN,
    ).status_code in (404, 409)


def test_a_name_with_markup_is_shown_as_text(
    ui: TestClient,
    db: Database,
    clock: ManualClock,
    node_secrets: NodeSecrets,
    staff_users: dict[str, staff.StaffAccount],
) -> None:
    ada = _ada(db, node_secrets, clock, name="<script>alert(1)</script> Ada")
    sign_in(ui, "operator")
    page = ui.get(f"/admin/customers/{ada}")
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Ada" in page.text
    assert "<script>" not in page.text


def test_who_may_see_customers_and_api_keys(
    ui: TestClient,
    db: Database,
    clock: ManualClock,
    node_secrets: NodeSecrets,
    staff_users: dict[str, staff.StaffAccount],
) -> None:
    ada = _ada(db, node_secrets, clock)
    create_api_key(db, name="till", now=clock.now())
    sign_in(ui, "auditor")
    assert ui.get("/admin/customers").status_code == 403
    assert ui.get(f"/admin/customers/{ada}").status_code == 403
    assert (
        ui.post("/admin/customers/search", data={"q": ada}, headers=SAME_ORIGIN).status_code == 403
    )
    keys = ui.get("/admin/apikeys")
    assert keys.status_code == 200 and "till" in keys.text
    assert "Revoke" not in keys.text and "New API key" not in keys.text
    assert ui.post("/admin/apikeys", data={"name": "x"}, headers=SAME_ORIGIN).status_code == 403
    ui.cookies.clear()
    sign_in(ui, "privacy-officer")
    assert ui.get("/admin/customers").status_code == 403
    assert ui.get("/admin/apikeys").status_code == 403
    assert _page_views(db, ada) == []


def _api_status(ui: TestClient, token: str, customer_id: str) -> int:
    answer = ui.get(
        f"/api/v1/customers/{customer_id}", headers={"Authorization": f"Bearer {token}"}
    )
    return answer.status_code


def test_an_api_key_is_shown_once_then_only_its_prefix_and_revoking_stops_it(
    ui: TestClient,
    db: Database,
    clock: ManualClock,
    node_secrets: NodeSecrets,
    staff_users: dict[str, staff.StaffAccount],
) -> None:
    ada = _ada(db, node_secrets, clock)
    sign_in(ui, "operator")
    listed = ui.get("/admin/apikeys")
    assert listed.status_code == 200 and "No API keys yet." in listed.text
    form = {"name": "Web shop", "key": _key(listed.text)}
    made = ui.post("/admin/apikeys", data=form, headers=SAME_ORIGIN)
    assert made.status_code == 201, made.text
    token = re.search(r'value="(ksk_[^"]+)"', made.text)
    assert token is not None
    secret = token.group(1)
    again = ui.post("/admin/apikeys", data=form, headers=SAME_ORIGIN)  # double submit
    assert again.status_code == 200 and "ksk_" not in again.text
    assert "sent twice" in again.text
    assert _api_status(ui, secret, ada) == 200
    listed = ui.get("/admin/apikeys").text
    assert listed.count("<td>Web shop</td>") == 1 and secret not in listed
    key_id = secret.split("_")[1] + "_" + secret.split("_")[2]
    assert f"ksk_{key_id}_…" in listed
    revoked = ui.post(f"/admin/apikeys/{key_id}/revoke", headers=SAME_ORIGIN)
    assert revoked.status_code == 303
    assert revoked.headers["location"] == "/admin/apikeys?done=revoked"
    assert _api_status(ui, secret, ada) == 401
    shown = ui.get(revoked.headers["location"]).text
    assert "The key is revoked." in shown and "revoked on" in shown
    assert ui.post(f"/admin/apikeys/{key_id}/revoke", headers=SAME_ORIGIN).status_code == 303
    assert ui.post("/admin/apikeys/key_nothing/revoke", headers=SAME_ORIGIN).status_code == 404
    nameless = ui.post("/admin/apikeys", data={"name": " ", "key": "n1"}, headers=SAME_ORIGIN)
    assert nameless.status_code == 422 and 'aria-invalid="true"' in nameless.text
