"""The café of docs/program.md: its program, Danish times, and a till that speaks the API.

The program is read out of docs/program.md (between the ``program.toml``
markers), so the worked examples and their tests use the very file the doc
shows. Times in the examples are Danish (Europe/Copenhagen); :func:`dk`
turns them into the UTC the node works in.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from node.clock import ManualClock
from node.program import Program, load_program_file
from tests.node.conftest import Operator

DOC = Path(__file__).resolve().parents[3] / "docs" / "program.md"
COPENHAGEN = ZoneInfo("Europe/Copenhagen")
BLOCK = re.compile(
    r"<!-- program\.toml: begin -->\s*```toml\n(?P<toml>.*?)```\s*<!-- program\.toml: end -->",
    re.DOTALL,
)


def dk(year: int, month: int, day: int, hour: int = 12, minute: int = 0) -> datetime:
    """A Danish wall-clock time, in UTC."""
    return datetime(year, month, day, hour, minute, tzinfo=COPENHAGEN).astimezone(UTC)


#: When the café applied its program (version 1): 1 February 2026, 09:00.
APPLIED_AT = dk(2026, 2, 1, 9)


def doc_program_text() -> str:
    """The example program.toml, exactly as docs/program.md shows it."""
    found = BLOCK.search(DOC.read_text())
    assert found, "docs/program.md lost its program.toml markers"
    return found.group("toml")


def cafe_program() -> Program:
    return load_program_file(doc_program_text())


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "field"}
    return dict(body["error"])


class Till(Operator):
    """The café's till: the operator API with the program's extras (lines, refunds, tiers)."""

    def __init__(self, operator: Operator, clock: ManualClock) -> None:
        self.client, self.auth, self.clock = operator.client, operator.auth, clock

    def at(self, moment: datetime) -> Till:
        self.clock.set(moment)
        return self

    def apply(self, program: Program | dict[str, Any], comment: str | None = None) -> Any:
        body = program.model_dump(mode="json") if isinstance(program, Program) else program
        response = self.client.put(
            "/api/v1/program",
            json={"program": body, "comment": comment},
            headers={**self.auth, "Idempotency-Key": str(uuid.uuid4())},
        )
        assert response.status_code == 201, response.text
        return response.json()

    def join(self, **personal: Any) -> str:
        return self.enrol(**personal)

    def buy(
        self,
        customer: str,
        amount: int | None = None,
        *,
        lines: dict[str, int] | None = None,
        occurred_at: datetime | None = None,
        order_ref: str | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if lines is not None:
            body["lines"] = [{"category": c, "amount": a} for c, a in lines.items()]
            amount = sum(lines.values()) if amount is None else amount
        body["amount"] = amount
        if occurred_at is not None:
            body["occurred_at"] = occurred_at.isoformat()
        if order_ref is not None:
            body["order_ref"] = order_ref
        response = self.post(f"/api/v1/customers/{customer}/purchases", body)
        assert response.status_code == 201, response.text
        return dict(response.json())

    def redeem(self, customer: str, points: int) -> dict[str, Any]:
        response = self.post(f"/api/v1/customers/{customer}/redemptions", {"points": points})
        assert response.status_code == 201, response.text
        return dict(response.json())

    def refund(self, customer: str, transaction_id: str, amount: int) -> dict[str, Any]:
        response = self.post(
            f"/api/v1/customers/{customer}/refunds",
            {"transaction_id": transaction_id, "amount": amount},
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    def balance(self, customer: str) -> dict[str, Any]:
        return dict(self.get(f"/api/v1/customers/{customer}/balance").json())

    def tier(self, customer: str) -> dict[str, Any]:
        return dict(self.get(f"/api/v1/customers/{customer}/tier").json())

    def credit(self, customer: str) -> dict[str, Any]:
        return dict(self.get(f"/api/v1/customers/{customer}/store-credit").json())

    def spend_credit(self, customer: str, amount: int) -> dict[str, Any]:
        response = self.post(f"/api/v1/customers/{customer}/store-credit/spend", {"amount": amount})
        assert response.status_code == 201, response.text
        return dict(response.json())
