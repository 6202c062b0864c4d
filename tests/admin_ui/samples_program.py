"""Empty and full sample contexts for the operator's program templates (samples.py merges them)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from admin_ui.staff.program import edit_context, program_context, stock_context
from admin_ui.staff.program_form import form_values
from admin_ui.staff.program_history import diff_context, history_context
from admin_ui.staff.program_webhooks import webhooks_context
from node.program.config import Program, parse_program
from node.services.program import ProgramChange, VersionDiff, changed_values
from node.services.rewards import StockEntry

AT = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
EMPTY = Program()
FULL = parse_program(
    {
        "earn": {"points_per_unit": 2, "minimum_purchase": 5000, "categories": {"books": 200}},
        "campaigns": [
            {
                "code": "spring",
                "name": "Spring <b>double</b>",
                "starts_at": "2026-03-01T00:00:00Z",
                "ends_at": "2026-04-01T00:00:00Z",
                "kind": "multiplier",
                "multiplier_percent": 200,
            },
            {
                "code": "coffee",
                "name": "Coffee bonus",
                "starts_at": "2026-03-01T00:00:00Z",
                "ends_at": "2026-04-01T00:00:00Z",
                "kind": "fixed",
                "bonus_points": 50,
            },
        ],
        "tiers": {
            "levels": [
                {"code": "blue", "name": "Blue", "threshold": 0},
                {
                    "code": "gold",
                    "name": "Gold <i>",
                    "threshold": 500000,
                    "multiplier_percent": 150,
                },
            ]
        },
        "bonuses": {"enrolment_points": 100, "birthday_points": 50},
        "cashback": {"basis_points": 250},
        "rewards": [
            {"code": "cake", "name": "Cake <script>", "points": 300, "stock": 10},
            {"code": "mug", "name": "Mug", "points": 900},
        ],
        "membership": {"plans": [{"code": "plus", "name": "Plus", "fee": 4900}]},
        "actions": [{"code": "review", "name": "Review", "points": 20}],
        "challenges": [
            {
                "code": "five",
                "name": "Five visits",
                "starts_at": "2026-03-01T00:00:00Z",
                "ends_at": "2026-04-01T00:00:00Z",
                "goal": "visits",
                "target": 5,
                "reward_points": 100,
            }
        ],
    }
)
STOCK = [StockEntry(FULL.rewards[0], 4, 6), StockEntry(FULL.rewards[1], 2, None)]
CHANGE = ProgramChange(3, "staff:stf_1", "Spring <b>", AT, ["earn.points_per_unit"], FULL)
ENDPOINT = {
    "id": "whk_1",
    "url": "https://shop.example/hook?a=<b>",
    "events": ["tier.changed", "voucher.issued"],
    "enabled": True,
    "created_at": "2026-03-01T09:30:00Z",
}

SAMPLES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "staff/program.html": (
        program_context(0, EMPTY, [], can_manage=False, currency="DKK", exponent=2),
        program_context(3, FULL, STOCK, can_manage=True, currency="DKK", exponent=2, saved=3),
    ),
    "staff/program_edit.html": (
        edit_context(0, form_values(EMPTY)),
        edit_context(
            3,
            {**form_values(FULL), "earn.points_per_unit": "<b>"},
            errors={"earn.points_per_unit": "Enter a whole number <b>", "rewards": "x <i>"},
            comment="Spring <b>",
        ),
    ),
    "staff/program_stock.html": (
        stock_context(0, []),
        stock_context(
            3,
            STOCK,
            typed={"cake": "<b>"},
            errors={"cake": "Enter a whole number <b>"},
            can_manage=True,
            saved=4,
        ),
    ),
    "staff/program_history.html": (
        history_context([], {}),
        history_context([CHANGE], {"stf_1": "kari <b>"}, next_before=3),
    ),
    "staff/program_version.html": (
        diff_context(VersionDiff(CHANGE, []), {}),
        diff_context(VersionDiff(CHANGE, changed_values(EMPTY, FULL)), {"stf_1": "kari <b>"}),
    ),
    "staff/program_webhooks.html": (
        webhooks_context([], can_manage=False),
        webhooks_context(
            [ENDPOINT, {**ENDPOINT, "id": "whk_2", "enabled": False}],
            can_manage=True,
            url="ftp://<b>",
            events=["tier.changed"],
            errors={"url": "url: must start with https:// <b>"},
            added={**ENDPOINT, "secret": "whsec_<b>"},
        ),
    ),
}
