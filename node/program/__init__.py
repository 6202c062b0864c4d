"""The loyalty program's rules as pure code: configuration and earn arithmetic.

No database and no clock here: node.services.program stores versions and
node.services.points applies them to purchases.
"""

from __future__ import annotations

from node.program.config import (
    EVENT_TYPES,
    Bonuses,
    Campaign,
    Cashback,
    EarnRules,
    Expiry,
    Program,
    Reward,
    Tier,
    TierRules,
    load_program_file,
    parse_program,
    program_from_json,
)

__all__ = [
    "EVENT_TYPES",
    "Bonuses",
    "Campaign",
    "Cashback",
    "EarnRules",
    "Expiry",
    "Program",
    "Reward",
    "Tier",
    "TierRules",
    "load_program_file",
    "parse_program",
    "program_from_json",
]
