"""Empty and full sample contexts for the operator's partners templates (samples.py merges them)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from admin_ui.staff.partners import partners_context, rotate_context
from admin_ui.staff.partners_outbox import cancel_context, outbox_context
from admin_ui.staff.settlement import period_context, settlement_context

WHEN = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
EVIL = "<b>evil</b>"

MANIFEST: dict[str, Any] = {
    "consortium": "konsort-<demo>",
    "version": 3,
    "issued_at": WHEN,
    "currency": "DKK",
    "exponent": 2,
    "members": [
        {
            "node_id": "cafe",
            "display_name": "Café <Aroma>",
            "kind": "business",
            "status": "active",
            "endpoint": "https://cafe.example",
            "point_value": 50,
            "is_self": True,
            "keys": [
                {
                    "kid": "cafe:k1",
                    "not_before": WHEN,
                    "not_after": WHEN,
                    "revoked_at": WHEN,
                    "valid_now": False,
                },
                {
                    "kid": "cafe:k2",
                    "not_before": WHEN,
                    "not_after": WHEN,
                    "revoked_at": None,
                    "valid_now": True,
                },
            ],
        },
        {
            "node_id": "bookshop",
            "display_name": EVIL,
            "kind": "charity",
            "status": "suspended",
            "endpoint": "https://books.example",
            "point_value": 120,
            "is_self": False,
            "keys": [
                {
                    "kid": "bookshop:k1",
                    "not_before": WHEN,
                    "not_after": WHEN,
                    "revoked_at": None,
                    "valid_now": False,
                }
            ],
        },
    ],
}

OWN_KEYS = [
    {"kid": "cafe:k1", "state": "not_valid", "jwk": "{}"},
    {"kid": "cafe:k2", "state": "signing", "jwk": "{}"},
    {"kid": "cafe:k3", "state": "not_listed", "jwk": "{}"},
]

MESSAGE: dict[str, Any] = {
    "message_id": "AAAAAAAAAAAAAAAAAAAAAA",
    "partner": "bookshop",
    "type": "transfer.request",
    "state": "queued",
    "attempts": 0,
    "next_attempt_at": WHEN,
    "last_error": None,
    "created_at": WHEN,
    "expires_at": WHEN,
    "cancellable": True,
}
MESSAGES = [
    MESSAGE,
    {**MESSAGE, "message_id": "B" * 22, "state": "retrying", "attempts": 3, "last_error": EVIL},
    {**MESSAGE, "message_id": "C" * 22, "partner": "charity", "state": "overdue"},
]

PERIOD: dict[str, Any] = {
    "id": "stl_1",
    "partner": "bookshop",
    "period_start": WHEN,
    "period_end": WHEN,
    "state": "agreed",
    "net_minor": -12960,
    "owed_by": "cafe",
    "owed_to": "bookshop",
    "amount_minor": 12960,
    "paid_minor": 960,
    "entries": 2,
    "differing": ["bookshop:" + "A" * 22],
    "statements": [
        {
            "message_id": "M" * 22,
            "net_minor": -12960,
            "entries": 2,
            "sent_at": WHEN,
            "outcome": "disputed",
            "reason": None,
            "partner_net_minor": -13000,
            "differing": ["bookshop:" + "A" * 22],
        },
        {
            "message_id": "N" * 22,
            "net_minor": -12960,
            "entries": 2,
            "sent_at": WHEN,
            "outcome": None,
            "reason": None,
            "partner_net_minor": None,
            "differing": [],
        },
    ],
    "payments": [
        {
            "id": "pay_1",
            "amount_minor": 960,
            "payer": "cafe",
            "reference": "SEPA-1",
            "recorded_by": "staff:" + EVIL,
            "recorded_at": WHEN,
        }
    ],
}
EMPTY_PERIOD = {
    **PERIOD,
    "state": "awaiting_answer",
    "net_minor": None,
    "owed_by": None,
    "owed_to": None,
    "amount_minor": None,
    "paid_minor": 0,
    "differing": [],
    "statements": [],
    "payments": [],
}
OFFERS = [
    {
        "reward_id": "coffee",
        "name": EVIL,
        "points": 100,
        "stock_left": None,
        "available_until": None,
    },
    {"reward_id": "book", "name": "Book", "points": 900, "stock_left": 3, "available_until": WHEN},
]
OUTBOX = [
    {
        "partner": "bookshop",
        "queued": 1,
        "retrying": 2,
        "answered": 40,
        "oldest_queued_at": WHEN,
        "last_error": EVIL,
    }
]

SAMPLES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "staff/partners.html": (
        partners_context({"manifest": None, "own_keys": []}, [], [], can_manage=False),
        partners_context(
            {"manifest": MANIFEST, "own_keys": OWN_KEYS}, OUTBOX, OFFERS, can_manage=True
        ),
    ),
    "staff/partner_key_rotate.html": (
        rotate_context(""),
        rotate_context(
            "cafe:k3", rotated={"kid": "cafe:k3", "jwk": '{"x": "<b>"}', "created": True}
        ),
    ),
    "staff/outbox.html": (
        outbox_context([], can_manage=False),
        outbox_context(MESSAGES, can_manage=True, done="cancelled"),
    ),
    "staff/outbox_cancel.html": (
        cancel_context({**MESSAGE, "cancellable": False, "state": "retrying"}),
        cancel_context(MESSAGE, error=EVIL),
    ),
    "staff/settlement.html": (
        settlement_context([], None, can_manage=False),
        settlement_context(
            [PERIOD, EMPTY_PERIOD],
            MANIFEST,
            can_manage=True,
            form={"partner": "bookshop", "period_start": EVIL, "period_end": "2026-04-01"},
            errors={"period_end": EVIL},
        ),
    ),
    "staff/settlement_period.html": (
        period_context(EMPTY_PERIOD, None, can_manage=False),
        period_context(
            {**PERIOD, "state": "agreed"},
            MANIFEST,
            can_manage=True,
            form={"amount": EVIL, "reference": "SEPA"},
            errors={"amount": EVIL, "statement": EVIL},
            paid=True,
        ),
    ),
}
