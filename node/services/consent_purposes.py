"""Consent purposes and their versioned wording.

Every node starts with six purposes (migration 0005), each a separate choice:
``membership`` (legal basis: the membership contract, GDPR Art. 6(1)(b); it is
not a consent and ends only when the member leaves), ``partner_transfers``,
``marketing``, ``profiling``, ``personalised_offers`` and ``analytics``
(each a consent, Art. 6(1)(a)). A node may add purposes of its own (always
consent-based) and publish new wording for any purpose; each publication is
the next version and no version is ever changed or deleted.

The wording rule: a grant is a grant of the version the member saw, and it
stays valid when newer wording is published. The API shows such a grant with
``current_version`` above its ``wording_version`` so the node can ask the
member to confirm the new text. A change that widens what is done with the
data is not new wording but a new purpose: publish it under a new id, which
every member starts without.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from node.clock import isoformat
from node.db import Database
from node.errors import ValidationFailed
from node.services.idempotency import Answer, Unit, idempotent_unit
from node.store import consent as store

MEMBERSHIP = "membership"
PARTNER_TRANSFERS = "partner_transfers"
MARKETING = "marketing"
PROFILING = "profiling"
PERSONALISED_OFFERS = "personalised_offers"
ANALYTICS = "analytics"

#: The purposes every node has from its first migration.
PURPOSES = (MEMBERSHIP, PARTNER_TRANSFERS, MARKETING, PROFILING, PERSONALISED_OFFERS, ANALYTICS)
CONSENT, CONTRACT = "consent", "contract"
PURPOSE_ID = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


@dataclass(frozen=True)
class Purpose:
    purpose: str
    legal_basis: str
    #: Every published version, oldest first; the last is in force.
    versions: list[store.WordingRow]

    @property
    def current(self) -> store.WordingRow:
        return self.versions[-1]


def wording_json(row: store.WordingRow) -> dict[str, Any]:
    return {
        "version": row.version,
        "title": row.title,
        "text": row.text,
        "published_at": isoformat(row.published_at),
    }


def purpose_json(found: Purpose) -> dict[str, Any]:
    return {
        "purpose": found.purpose,
        "legal_basis": found.legal_basis,
        "withdrawable": found.legal_basis == CONSENT,
        "current_version": found.current.version,
        "title": found.current.title,
        "text": found.current.text,
        "versions": [wording_json(row) for row in found.versions],
    }


def purposes_txn(*, session: Session) -> dict[str, Purpose]:
    grouped: dict[str, list[store.WordingRow]] = {}
    for row in store.all_wording(session=session):
        grouped.setdefault(row.purpose, []).append(row)
    return {
        purpose: Purpose(purpose, rows[-1].legal_basis, rows) for purpose, rows in grouped.items()
    }


def list_purposes(db: Database) -> list[Purpose]:
    with db.read() as session:
        return list(purposes_txn(session=session).values())


def require_wording_txn(
    *, session: Session, purpose: str, version: int | None = None, field: str = "purpose"
) -> store.WordingRow:
    """The purpose's wording (the version given, else the one in force); 422 if none."""
    found = store.wording(session=session, purpose=purpose, version=version)
    if found is not None:
        return found
    if version is not None and store.wording(session=session, purpose=purpose) is not None:
        raise ValidationFailed(
            f"purpose {purpose} has no wording version {version}", field="wording_version"
        )
    raise ValidationFailed(
        f"unknown consent purpose {purpose!r}; GET /api/v1/consent/purposes lists them",
        field=field,
    )


def publish_wording_txn(
    *, session: Session, purpose: str, title: str, text: str, actor: str, now: datetime
) -> store.WordingRow:
    """Publish the next wording version of ``purpose`` (version 1 adds the purpose)."""
    if not PURPOSE_ID.match(purpose):
        raise ValidationFailed(
            "a purpose id is 2-40 lowercase letters, digits or _ and starts with a letter",
            field="purpose",
        )
    title, text = title.strip(), text.strip()
    if not 1 <= len(title) <= 100:
        raise ValidationFailed("the title is 1-100 characters", field="title")
    if not 1 <= len(text) <= 4000:
        raise ValidationFailed("the text is 1-4000 characters", field="text")
    current = store.wording(session=session, purpose=purpose)
    row = store.WordingRow(
        purpose=purpose,
        version=current.version + 1 if current else 1,
        legal_basis=current.legal_basis if current else CONSENT,
        title=title,
        text=text,
        published_by=actor[:60],
        published_at=now,
    )
    store.insert_wording(session=session, row=row)
    return row


def publish_unit(
    *, purpose: str, title: str, text: str, actor: str, idempotency_key: str, now: datetime
) -> Unit:
    def work(session: Session) -> Answer:
        row = publish_wording_txn(
            session=session, purpose=purpose, title=title, text=text, actor=actor, now=now
        )
        return Answer(
            201, {"purpose": purpose, "legal_basis": row.legal_basis, **wording_json(row)}
        )

    return idempotent_unit(
        key=idempotency_key,
        operation="consent-publish",
        request={"purpose": purpose, "title": title, "text": text},
        now=now,
        work=work,
    )


def publish_wording(
    db: Database, *, purpose: str, title: str, text: str, actor: str, now: datetime
) -> store.WordingRow:
    """Publish from the CLI (one transaction, no idempotency key)."""
    with db.transaction() as session:
        return publish_wording_txn(
            session=session, purpose=purpose, title=title, text=text, actor=actor, now=now
        )
