"""The privacy officer's consent reports: how many members are in each state per
purpose and wording version, the recent withdrawals, and all records as CSV.

Only opaque customer ids, purposes, versions, channels, actors and times: no
name, email or wording text of a member leaves here.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from node.clock import isoformat
from node.db import Database
from node.services.consent_purposes import CONTRACT, purposes_txn
from node.store import consent_reports as store

CSV_COLUMNS = (
    "record_id",
    "customer_id",
    "purpose",
    "granted",
    "wording_version",
    "channel",
    "actor",
    "recorded_at",
)


def consent_counts(db: Database, *, withdrawals: int = 20) -> dict[str, Any]:
    """Per purpose: each wording version with the members whose newest record is a
    grant or a withdrawal of it; and the latest ``withdrawals`` withdrawals."""
    with db.read() as session:
        purposes = purposes_txn(session=session)
        counts = store.current_state_counts(session=session)
        recent = store.recent_withdrawals(session=session, limit=withdrawals)
    by_version: dict[tuple[str, int], dict[str, int]] = {}
    for purpose, version, granted, members in counts:
        slot = by_version.setdefault((purpose, version), {"granted": 0, "withdrawn": 0})
        slot["granted" if granted else "withdrawn"] += members
    items: list[dict[str, Any]] = []
    for name, found in purposes.items():
        versions: list[dict[str, Any]] = [
            {
                "version": row.version,
                "title": row.title,
                "published_at": isoformat(row.published_at),
                "current": row.version == found.current.version,
                **by_version.get((name, row.version), {"granted": 0, "withdrawn": 0}),
            }
            for row in found.versions
        ]
        items.append(
            {
                "purpose": name,
                "legal_basis": found.legal_basis,
                "withdrawable": found.legal_basis != CONTRACT,
                "current_version": found.current.version,
                "title": found.current.title,
                "text": found.current.text,
                "granted": sum(int(v["granted"]) for v in versions),
                "withdrawn": sum(int(v["withdrawn"]) for v in versions),
                "versions": versions,
            }
        )
    return {
        "purposes": items,
        "recent_withdrawals": [
            {
                "id": r.public_id,
                "customer_id": r.customer_id,
                "purpose": r.purpose,
                "wording_version": r.wording_version,
                "channel": r.channel,
                "recorded_at": isoformat(r.recorded_at),
            }
            for r in recent
        ],
    }


def consent_records_csv(db: Database) -> Iterator[str]:
    """Every consent record, oldest first, as CSV lines (header first)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")

    def line(values: list[Any]) -> str:
        out.seek(0)
        out.truncate()
        writer.writerow(values)
        return out.getvalue()

    yield line(list(CSV_COLUMNS))
    with db.read() as session:
        for r in store.all_records(session=session):
            yield line(
                [
                    r.public_id,
                    r.customer_id,
                    r.purpose,
                    "true" if r.granted else "false",
                    r.wording_version,
                    r.channel,
                    r.actor,
                    isoformat(r.recorded_at),
                ]
            )
