"""A voucher the bookshop issued for a café member's partner redemption cannot
be cancelled at the bookshop: the member paid with café points, so there are
no bookshop points of theirs to give back (409 ``partner_voucher``). The
bookshop's own vouchers cancel as before, and the partner voucher still works
at the till.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from node.services.verification import verify_ledger
from tests.node.federation.conftest import Consortium, Node

BOOK_VOUCHER = {"code": "book-voucher", "name": "Book voucher", "points": 80, "partner_offer": True}
STAFF_PICK = {"code": "staff-pick", "name": "Staff pick", "points": 50}


def _write(node: Node, path: str, body: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
    return node.client.post(
        path, json=body, headers={**headers, "Idempotency-Key": str(uuid.uuid4())}
    )


def _vouchers(node: Node, customer: str) -> dict[str, dict[str, Any]]:
    found = node.client.get(f"/api/v1/customers/{customer}/vouchers", headers=node.operator())
    assert found.status_code == 200, found.text
    return {item["reward"]: item for item in found.json()["items"]}


@pytest.fixture
def partner_voucher(consortium: Consortium) -> tuple[str, str]:
    """Ann's bookshop account holds a book voucher she paid for with café points."""
    cafe, bookshop = consortium["cafe"], consortium["bookshop"]
    applied = bookshop.client.put(
        "/api/v1/program",
        json={"program": {"rewards": [BOOK_VOUCHER, STAFF_PICK]}, "comment": None},
        headers={**bookshop.operator(), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert applied.status_code == 201, applied.text
    ann_cafe, ann_books = cafe.enrol(), bookshop.enrol()
    cafe.earn(ann_cafe, 100_000)
    consortium.link("cafe", ann_cafe, "bookshop", ann_books)
    redeemed = _write(
        cafe,
        "/api/v1/me/partner-redemptions",
        {"partner": "bookshop", "reward": "book-voucher"},
        cafe.token(ann_cafe),
    )
    assert redeemed.status_code == 202, redeemed.text
    consortium.settle()
    return ann_books, _vouchers(bookshop, ann_books)["book-voucher"]["code"]


@pytest.mark.parametrize(
    "path", ["/api/v1/vouchers/{code}/cancel", "/api/v1/me/vouchers/{code}/cancel"]
)
def test_a_partner_voucher_is_not_cancelled_at_the_partner(
    consortium: Consortium, partner_voucher: tuple[str, str], path: str
) -> None:
    bookshop = consortium["bookshop"]
    ann_books, code = partner_voucher
    totals = verify_ledger(bookshop.db).totals
    auth = bookshop.operator() if "/me/" not in path else bookshop.token(ann_books)

    refused = _write(bookshop, path.format(code=code), {}, auth)

    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "partner_voucher"
    assert refused.json()["error"]["field"] == "code"
    assert code not in refused.text  # the code is a bearer secret
    assert _vouchers(bookshop, ann_books)["book-voucher"]["status"] == "issued"
    assert bookshop.balance(ann_books) == 0
    assert verify_ledger(bookshop.db).totals == totals
    used = _write(
        bookshop, f"/api/v1/vouchers/{code}/use", {"reference": "sale-1"}, bookshop.operator()
    )
    assert used.status_code == 200, used.text
    assert used.json()["status"] == "used"


def test_the_partners_own_vouchers_still_cancel(
    consortium: Consortium, partner_voucher: tuple[str, str]
) -> None:
    bookshop = consortium["bookshop"]
    ann_books, _ = partner_voucher
    bookshop.earn(ann_books, 10_000)  # 100 bookshop points
    issued = _write(
        bookshop, f"/api/v1/customers/{ann_books}/vouchers", {"reward": "staff-pick"},
        bookshop.operator(),
    )  # fmt: skip
    assert issued.status_code == 201, issued.text
    assert bookshop.balance(ann_books) == 50
    code = issued.json()["voucher"]["code"]

    cancelled = _write(bookshop, f"/api/v1/vouchers/{code}/cancel", {}, bookshop.operator())

    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["balance"] == 100
