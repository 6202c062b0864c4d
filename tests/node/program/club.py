"""The Bønne Club of docs/program.md: the café's program with its paid plan,
action types and challenges added (the ``club.toml`` block), and helpers."""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import text

from node.db import Database
from node.program import Program, load_program_file
from node.services.verification import verify_ledger
from tests.node.program.cafe import DOC, Till, doc_program_text

CLUB_BLOCK = re.compile(
    r"<!-- club\.toml: begin -->\s*```toml\n(?P<toml>.*?)```\s*<!-- club\.toml: end -->",
    re.DOTALL,
)


def club_text() -> str:
    found = CLUB_BLOCK.search(DOC.read_text())
    assert found, "docs/program.md lost its club.toml markers"
    return found.group("toml")


def club_program(**replace: str) -> Program:
    """The café program plus the club lines, with ``old=new`` text replacements."""
    extra = club_text()
    for old, new in replace.items():
        assert old in extra, old
        extra = extra.replace(old, new)
    return load_program_file(doc_program_text() + "\n" + extra)


def events_of(db: Database, type: str | None = None) -> list[dict[str, Any]]:
    with db.read() as session:
        rows = session.execute(text("SELECT type, payload FROM webhook_event ORDER BY id")).all()
    return [
        {"type": str(row[0]), **json.loads(row[1])}
        for row in rows
        if type is None or row[0] == type
    ]


def ledger_ok(db: Database) -> None:
    report = verify_ledger(db)
    assert report.ok, report.violations


def pay(till: Till, customer: str, amount: int = 4900, **extra: Any) -> dict[str, Any]:
    response = till.post(
        f"/api/v1/customers/{customer}/membership/payments",
        {"plan": "bonne-club", "amount": amount, **extra},
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def membership(till: Till, customer: str) -> dict[str, Any]:
    response = till.get(f"/api/v1/customers/{customer}/membership")
    assert response.status_code == 200, response.text
    return dict(response.json())


def act(till: Till, customer: str, type: str, key: str | None = None, **extra: Any) -> Any:
    return till.post(f"/api/v1/customers/{customer}/actions", {"type": type, **extra}, key=key)
