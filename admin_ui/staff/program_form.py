"""The program edit form: a Program as form fields, and form fields back into a Program.

Plain figures (earn rate, expiry, bonuses, cashback) are one input each,
named by their dotted path in the program ("earn.points_per_unit"); the
categories are one line each (``code = percent``); the sections that are
lists of items (campaigns, tiers, rewards, paid plans, action types,
challenges, offer rules) are edited as JSON, exactly the shape of the
operator API (docs/program.md). The result goes through the same
validation as ``PUT /api/v1/program`` (node.program.config.parse_program),
and a ValidationFailed comes back with the name of the form field it
belongs to, so the page can show it next to that field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from admin_ui.i18n import N_
from node.errors import ValidationFailed
from node.program.config import Program, parse_program

#: Whole-number inputs: (form field = dotted program path, label).
FIGURES: tuple[tuple[str, str], ...] = (
    ("earn.points_per_unit", N_("Points per currency unit")),
    ("earn.minimum_purchase", N_("Minimum purchase that earns (minor units)")),
    ("expiry.days", N_("Points expire after (days)")),
    ("expiry.warn_days", N_("Warn members this many days before expiry")),
    ("bonuses.enrolment_points", N_("Enrolment bonus (points)")),
    ("bonuses.birthday_points", N_("Birthday bonus (points)")),
    ("bonuses.referrer_points", N_("Referral bonus to the member who referred (points)")),
    ("bonuses.referred_points", N_("Referral bonus to the new member (points)")),
    ("cashback.basis_points", N_("Cashback as store credit (basis points, 250 = 2.5 %)")),
    ("cashback.minimum_purchase", N_("Minimum purchase for cashback (minor units)")),
)
CATEGORIES = "earn.categories"
#: Sections edited as JSON: (form field = top-level program key, label).
SECTIONS: tuple[tuple[str, str], ...] = (
    ("campaigns", N_("Campaigns")),
    ("tiers", N_("Tiers")),
    ("rewards", N_("Rewards catalogue")),
    ("membership", N_("Paid membership plans")),
    ("actions", N_("Action types")),
    ("challenges", N_("Challenges")),
    ("offers", N_("Offer rules")),
)
FIELDS = (*(name for name, _ in FIGURES), CATEGORIES, *(name for name, _ in SECTIONS))
MAX_FIELD = 100_000


def _at(data: Mapping[str, Any], path: str) -> Any:
    value: Any = data
    for step in path.split("."):
        value = value[step]
    return value


def form_values(program: Program) -> dict[str, str]:
    """The form's fields filled with ``program``."""
    data = program.model_dump(mode="json")
    values = {name: str(_at(data, name)) for name, _ in FIGURES}
    values[CATEGORIES] = "\n".join(
        f"{code} = {percent}" for code, percent in sorted(data["earn"]["categories"].items())
    )
    for name, _ in SECTIONS:
        values[name] = json.dumps(data[name], indent=2, ensure_ascii=False)
    return values


def _whole_number(name: str, text: str) -> int:
    text = text.strip()
    if not text.isdigit() or len(text) > 15:
        raise ValidationFailed(N_("Enter a whole number, 0 or more."), field=name)
    return int(text)


def _categories(text: str) -> dict[str, int]:
    found: dict[str, int] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        code, sep, percent = line.partition("=")
        if not sep or not percent.strip().isdigit() or len(percent.strip()) > 9:
            raise ValidationFailed(
                N_("Write one category per line as code = percent, e.g. books = 200."),
                field=CATEGORIES,
            )
        found[code.strip()] = int(percent.strip())
    return found


def _section(name: str, text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise ValidationFailed(
            N_("This is not valid JSON; compare it with docs/program.md."), field=name
        ) from None


def field_for(path: str | None) -> str | None:
    """The form field a program path (from parse_program's error) belongs to."""
    if path is None:
        return None
    if path in FIELDS:
        return path
    if path.startswith(CATEGORIES + "."):
        return CATEGORIES
    head = path.split(".", 1)[0]
    return head if head in dict(SECTIONS) else None


def program_from_form(current: Program, form: Mapping[str, str]) -> Program:
    """The program the form describes: ``current`` with every field of the form
    in its place, validated like the API. Raises ValidationFailed whose ``field``
    is the form field to mark (None when it belongs to none)."""
    data = current.model_dump(mode="json")
    for name, _ in FIGURES:
        section, key = name.split(".")
        data[section][key] = _whole_number(name, form.get(name, ""))
    data["earn"]["categories"] = _categories(form.get(CATEGORIES, ""))
    for name, _ in SECTIONS:
        data[name] = _section(name, form.get(name, ""))
    try:
        return parse_program(data)
    except ValidationFailed as exc:
        field = field_for(exc.field)
        message = exc.message
        if field is not None and field == exc.field:
            # The field is marked already: the path in front of the message says nothing more.
            message = message.removeprefix(f"{exc.field}: ")
        raise ValidationFailed(message, field=field) from None


def check_comment(text: str) -> str | None:
    """The change's comment as the API takes it: up to 200 characters, no control
    characters; empty means none."""
    text = text.strip()
    if any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in text) or len(text) > 200:
        raise ValidationFailed(
            N_("At most 200 characters on one line, without control characters."),
            field="comment",
        )
    return text or None


def read_form(posted: Mapping[str, Any]) -> dict[str, str]:
    """What the user typed, field by field (bounded)."""
    return {name: str(posted.get(name, ""))[:MAX_FIELD] for name in FIELDS}
