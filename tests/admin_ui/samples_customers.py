"""Sample contexts for the operator's customers and API keys templates (samples.py merges them)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from admin_ui.staff.apikeys import apikeys_context, created_context
from admin_ui.staff.customers import customer_context, search_context
from node.program.config import Tier
from node.services.customer_card import CustomerCard, Lot
from node.services.customer_search import Match
from node.services.ledger import Balance
from node.services.personal_data import PersonalData
from node.services.points import HistoryPage
from node.services.tiers import TierStatus

_AT = datetime(2026, 3, 1, 12, tzinfo=UTC)
_ISO = "2026-03-01T12:00:00Z"
_ID = "cus_3f2a9c0177be4d2a8e0f1a2b3c4d5e6f"

_FULL_CARD = CustomerCard(
    _ID,
    "3F2A-9C01-77BE",
    "active",
    _AT,
    PersonalData(name="Ada <b>Lovelace</b>", email="ada@example.org", birthday=date(1990, 12, 10)),
    balance=Balance(1234, 40, _AT, debt=5),
    lots=[Lot(40, _AT), Lot(1194, None)],
    tier=TierStatus(
        Tier(code="silver", name="Silver <b>", threshold=0),
        _AT,
        None,
        None,
        120000,
        "spend",
        Tier(code="gold", name="Gold", threshold=500000),
        380000,
        [],
    ),
    history=HistoryPage(
        [
            {"id": "t1", "kind": "earn", "points": 100, "reference": "o-1", "created_at": _ISO},
            {
                "id": "t2",
                "kind": "adjustment",
                "points": -50,
                "reference": "Goodwill <i>",
                "created_at": _ISO,
            },
            {"id": "t3", "kind": "odd", "points": 1, "reference": None, "created_at": _ISO},
        ],
        "YmVmb3JlOjM",
    ),
    links=[{"partner": "bookshop", "name": "Bogladen <b>", "status": "active", "since": _ISO}],
    vouchers=[
        {
            "code": "ABCD-EFGH-JKMN",
            "status": "issued",
            "reward": "coffee",
            "reward_name": "Coffee <b>",
            "points": 300,
            "issued_at": _ISO,
            "expires_at": None,
        }
    ],
    consents=[{"purpose": "marketing", "title": "News <b>", "state": "withdrawn"}],
    restricted=True,
)
_ERASED_CARD = CustomerCard(_ID, "3F2A-9C01-77BE", "erased", _AT)
_KEYS = [
    {
        "id": "key_1",
        "name": "Till <b>",
        "prefix": "ksk_key_1_",
        "created_at": _AT,
        "revoked_at": None,
    },
    {"id": "key_2", "name": "Shop", "prefix": "ksk_key_2_", "created_at": _AT, "revoked_at": _AT},
]

SAMPLES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "staff/customers.html": (
        search_context(),
        search_context(
            Match(_ID, "3F2A-9C01-77BE", "active", _AT, "email", "Ada <b>"),
            query="ada@example.org <b>",
            error="No customer matches this.",
        ),
    ),
    "staff/customer.html": (
        customer_context(_ERASED_CARD, can_adjust=True),
        customer_context(
            _FULL_CARD,
            can_adjust=True,
            cursor="YmVmb3JlOjk",
            form={"points": "-5000", "reason": "Broken <cup>"},
            errors={"points": "The balance does not cover this many points."},
            done="adjusted",
        ),
    ),
    "staff/apikeys.html": (
        apikeys_context([], can_manage=False),
        apikeys_context(
            _KEYS,
            can_manage=True,
            form={"name": "Web <shop>"},
            errors={"name": "Give the key a name of 1 to 100 characters."},
            done="revoked",
        ),
    ),
    "staff/apikeys_created.html": (
        created_context({"id": "key_1", "name": "Till"}, token=None),
        created_context({"id": "key_1", "name": "Till <b>"}, token="ksk_key_1_secret"),
    ),
}
