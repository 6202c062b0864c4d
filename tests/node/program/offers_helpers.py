"""The café's offer rules of docs/program.md (the ``offers.toml`` block), and helpers."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx

from node.db import Database
from node.program import Program, load_program_file
from node.store import offers as offer_store
from tests.node.program.cafe import DOC, Till, doc_program_text

OFFERS_BLOCK = re.compile(
    r"<!-- offers\.toml: begin -->\s*```toml\n(?P<toml>.*?)```\s*<!-- offers\.toml: end -->",
    re.DOTALL,
)


def offers_text() -> str:
    found = OFFERS_BLOCK.search(DOC.read_text())
    assert found, "docs/program.md lost its offers.toml markers"
    return found.group("toml")


def offers_program() -> Program:
    return load_program_file(doc_program_text() + "\n" + offers_text())


def join(till: Till, *, offers: bool = True, profiling: bool = True) -> str:
    return till.enrol(consents={"personalised_offers": offers, "profiling": profiling})


def offers_of(till: Till, customer: str) -> list[dict[str, Any]]:
    response = till.get(f"/api/v1/customers/{customer}/offers")
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def use(
    till: Till, customer: str, offer: str, reference: str | None = None, key: str | None = None
) -> httpx.Response:
    body = {} if reference is None else {"reference": reference}
    return till.client.post(
        f"/api/v1/customers/{customer}/offers/{offer}/use",
        json=body,
        headers={**till.auth, "Idempotency-Key": key or str(uuid.uuid4())},
    )


def withdraw(till: Till, customer: str, purpose: str) -> None:
    response = till.client.put(
        f"/api/v1/customers/{customer}/consents/{purpose}",
        json={"granted": False},
        headers={**till.auth, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert response.status_code == 200, response.text


def stored_offers(db: Database, customer: str | None = None) -> int:
    with db.read() as session:
        return offer_store.count_offers(session=session, customer_id=customer)


PRODUCT_OFFERS_BLOCK = re.compile(
    r"<!-- product-offers\.toml: begin -->\s*```toml\n(?P<toml>.*?)```"
    r"\s*<!-- product-offers\.toml: end -->",
    re.DOTALL,
)


def product_offers_program() -> Program:
    """The café program with only the product rule of Example O4 in ``[[offers]]``."""
    found = PRODUCT_OFFERS_BLOCK.search(DOC.read_text())
    assert found, "docs/program.md lost its product-offers.toml markers"
    return load_program_file(doc_program_text() + "\n" + found.group("toml"))
