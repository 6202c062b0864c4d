"""Erasure through the request workflow, across the consortium: the member asks the
café, staff approve, the partners drop their links and answer with signed receipts
that the request shows; a partner that is down gets the notice when it is back.
Retention of an inactive member reaches partners the same way."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from node.services import retention
from node.services.verification import verify_ledger
from protocol import verify_message
from tests.node.federation.conftest import Consortium, Node
from tests.node.federation.test_partner_notices import linked, my_links

__all__ = ["linked"]  # the fixture, shared with the notices tests


def _post(node: Node, path: str, body: Any, headers: dict[str, str]) -> Any:
    return node.client.post(
        path, json=body, headers={**headers, "Idempotency-Key": str(uuid.uuid4())}
    )


def test_an_approved_erasure_request_reaches_every_partner(
    consortium: Consortium, linked: dict[str, str]
) -> None:
    cafe, bookshop, charity = consortium["cafe"], consortium["bookshop"], consortium["charity"]
    ann = linked["cafe"]
    totals_before = verify_ledger(cafe.db).totals
    consortium.router.down.add("charity.test")
    filed = _post(cafe, "/api/v1/me/requests", {"type": "erasure"}, cafe.token(ann))
    assert filed.status_code == 201, filed.text
    request_id = filed.json()["id"]
    approved = _post(cafe, f"/api/v1/privacy/requests/{request_id}/approve", None, cafe.operator())
    assert approved.status_code == 200, approved.text
    assert approved.json()["outcome"]["partners_told"] == ["bookshop", "charity"]
    consortium.settle()

    shown = cafe.client.get(f"/api/v1/privacy/requests/{request_id}", headers=cafe.operator())
    states = {n["partner"]: n["state"] for n in shown.json()["partner_notices"]}
    assert states == {"bookshop": "receipt_in", "charity": "queued"}
    assert my_links(bookshop, linked["bookshop"]) == []
    assert my_links(charity, linked["charity"]) == [("cafe", "active")]

    consortium.router.down.clear()
    consortium.clock.advance(timedelta(minutes=5))
    consortium.settle()
    shown = cafe.client.get(f"/api/v1/privacy/requests/{request_id}", headers=cafe.operator())
    notices = {n["partner"]: n for n in shown.json()["partner_notices"]}
    assert {p: n["state"] for p, n in notices.items()} == {
        "bookshop": "receipt_in",
        "charity": "receipt_in",
    }
    assert my_links(charity, linked["charity"]) == []
    manifest = cafe.federation.manifest(cafe.db)
    assert manifest is not None
    for partner, notice in notices.items():
        token = cafe.client.get(
            f"/api/v1/privacy/notices/{notice['id']}/receipt", headers=cafe.operator()
        )
        assert token.status_code == 200
        verified = verify_message(
            token.content, manifest=manifest, receiver="cafe", now=_unix(consortium)
        )
        assert verified.issuer == partner
    # Bookkeeping survives: totals per account kind are unchanged by the erasure
    # except that the member's points moved to the forfeit account.
    totals_after = verify_ledger(cafe.db).totals
    assert sum(totals_after.values()) == sum(totals_before.values())


def test_retention_of_an_inactive_linked_member_tells_the_partners(
    consortium: Consortium, linked: dict[str, str]
) -> None:
    cafe, bookshop = consortium["cafe"], consortium["bookshop"]
    consortium.clock.advance(timedelta(days=cafe.settings.retention_inactive_customer_days + 1))
    run = retention.run_retention(
        cafe.db,
        cafe.settings,
        clock=consortium.clock,
        dry_run=False,
        trigger="schedule",
        actor="system",
        only=[retention.INACTIVE_CUSTOMERS],
        fed=cafe.federation,
    )
    (result,) = retention.run_json(run)["categories"]
    assert result["applied"] >= 1
    consortium.settle()
    assert my_links(bookshop, linked["bookshop"]) == []
    found = cafe.client.get(
        "/api/v1/privacy/notices",
        params={"request_ref": f"retention:{linked['cafe']}"},
        headers=cafe.operator(),
    )
    assert {n["partner"]: n["state"] for n in found.json()["items"]} == {
        "bookshop": "receipt_in",
        "charity": "receipt_in",
    }


def test_without_federation_a_linked_inactive_member_is_left_for_a_full_run(
    consortium: Consortium, linked: dict[str, str]
) -> None:
    cafe = consortium["cafe"]
    consortium.clock.advance(timedelta(days=cafe.settings.retention_inactive_customer_days + 1))
    kwargs: dict[str, Any] = {
        "clock": consortium.clock,
        "dry_run": False,
        "trigger": "cli",
        "actor": "cli",
        "only": [retention.INACTIVE_CUSTOMERS],
    }
    run = retention.run_retention(cafe.db, cafe.settings, **kwargs)
    assert retention.run_json(run)["categories"][0]["applied"] == 0
    assert my_links(cafe, linked["cafe"]) != []
    run = retention.run_retention(cafe.db, cafe.settings, fed=cafe.federation, **kwargs)
    assert retention.run_json(run)["categories"][0]["applied"] == 1


def _unix(consortium: Consortium) -> int:
    return int(consortium.clock.now().timestamp())
