"""The access and portability export (GDPR Art. 15 and 20): one zip per request.

The zip holds ``export.json`` (every section, the schema version, when and by
which node it was made) and one CSV per section (``ledger.csv``, ...). It is
built in memory when downloaded and never stored, so the database holds no
second copy of the member's personal data. A member's export is small (their
own rows only); the largest part is the ledger, about 150 bytes per entry.

Sections come from a registry, :data:`EXPORT_SECTIONS`: each is a name and a
function ``rows(session=, secrets=, customer_id=) -> list[dict]``. Other parts
of the privacy engine append their own (consents, staff look-ups) at merge.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlmodel import Session

from node.clock import isoformat
from node.db import Database
from node.errors import Conflict, NotFound
from node.secrets import NodeSecrets
from node.services import audit, consent
from node.services import personal_data as pd
from node.services.subject_requests import export_available, request_view
from node.store import access_export as rows_store
from node.store import customers as customer_store
from node.store import subject_requests as request_store

SCHEMA_VERSION = 1
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class ExportSection:
    name: str
    rows: Callable[..., list[dict[str, Any]]]


@dataclass(frozen=True)
class ExportFile:
    filename: str
    content: bytes
    #: Whose data the file holds (the admin UI audits its download under this id).
    customer_id: str = ""


def profile_rows(
    *, session: Session, secrets: NodeSecrets, customer_id: str
) -> list[dict[str, Any]]:
    found = customer_store.sealed_profile(session=session, customer_id=customer_id)
    if found is None:
        return []  # erased: nothing personal is left to show
    wrapped, sealed = found
    profile = pd.unseal(pd.unwrap_data_key(secrets, customer_id, wrapped), customer_id, sealed)
    return [profile.model_dump(mode="json")]


def _plain(
    query: Callable[..., list[dict[str, Any]]],
) -> Callable[..., list[dict[str, Any]]]:
    def rows(*, session: Session, secrets: NodeSecrets, customer_id: str) -> list[dict[str, Any]]:
        del secrets
        return query(session=session, customer_id=customer_id)

    return rows


def partner_rows(
    *, session: Session, secrets: NodeSecrets, customer_id: str
) -> list[dict[str, Any]]:
    """Which partner nodes got which kind of message about the member, and when."""
    del secrets
    found: list[dict[str, Any]] = [
        {
            "partner": link["partner"],
            "message": "link",
            "direction": "both",
            "status": link["status"],
            "at": link["created_at"],
        }
        for link in rows_store.links(session=session, customer_id=customer_id)
    ]
    found += [
        {
            "partner": op["peer"],
            "message": op["kind"],
            "direction": "sent" if op["direction"] == "out" else "answered",
            "status": op["status"],
            "at": op["created_at"],
        }
        for op in rows_store.federated_operations(session=session, customer_id=customer_id)
    ]
    return found


def request_rows(
    *, session: Session, secrets: NodeSecrets, customer_id: str
) -> list[dict[str, Any]]:
    del secrets
    found = request_store.list_requests(session=session, customer_id=customer_id, limit=10_000)
    views = []
    for row in found:
        view = request_view(row, now=row["due_at"])
        view.pop("overdue")  # a moment's judgement, not data held
        views.append(view)
    return views


def consent_rows(
    *, session: Session, secrets: NodeSecrets, customer_id: str
) -> list[dict[str, Any]]:
    """Every consent record with the wording the member saw."""
    del secrets
    return consent.consent_export_rows_txn(session=session, customer_id=customer_id)


def staff_lookup_rows(
    *, session: Session, secrets: NodeSecrets, customer_id: str
) -> list[dict[str, Any]]:
    """When staff looked at, changed or exported the member's data, and why (Pankki S)."""
    del secrets
    return audit.staff_lookups_txn(session=session, customer_id=customer_id)


EXPORT_SECTIONS: list[ExportSection] = [
    ExportSection("profile", profile_rows),
    ExportSection("account", _plain(rows_store.account)),
    ExportSection("ledger", _plain(rows_store.ledger_entries)),
    ExportSection("point_lots", _plain(rows_store.point_lots)),
    ExportSection("purchases", _plain(rows_store.purchases)),
    ExportSection("purchase_lines", _plain(rows_store.purchase_lines)),
    ExportSection("vouchers", _plain(rows_store.vouchers)),
    ExportSection("links", _plain(rows_store.links)),
    ExportSection("partners_that_received_anything", partner_rows),
    ExportSection("requests", request_rows),
    ExportSection("consents", consent_rows),
    ExportSection("staff_lookups", staff_lookup_rows),
]


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return isoformat(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {key: _json_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_value(item) for item in value]
    return value


def _csv(rows: list[dict[str, Any]]) -> str:
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        cells = []
        for column in columns:
            value = row.get(column)
            if isinstance(value, dict | list):
                value = json.dumps(value, separators=(",", ":"), sort_keys=True)
            cells.append("" if value is None else value)
        writer.writerow(cells)
    return out.getvalue()


def collect_sections_txn(
    *, session: Session, secrets: NodeSecrets, customer_id: str
) -> dict[str, list[dict[str, Any]]]:
    return {
        section.name: [
            _json_value(row)
            for row in section.rows(session=session, secrets=secrets, customer_id=customer_id)
        ]
        for section in EXPORT_SECTIONS
    }


def build_export(
    db: Database,
    *,
    secrets: NodeSecrets,
    node_id: str,
    request_id: str,
    now: datetime,
    customer_id: str | None = None,
    staff: str | None = None,
    purpose: str = "subject_request",
) -> ExportFile:
    """The zip for an approved access or portability request.

    ``customer_id`` limits it to that member's own requests (the customer API).
    ``staff`` names the staff member downloading it: the download is then a staff
    access to personal data and goes to the audit log, in the same transaction.
    """
    with db.transaction() if staff is not None else db.read() as session:
        row = request_store.request_by_public_id(session=session, public_id=request_id)
        if row is None or (customer_id is not None and row["customer_id"] != customer_id):
            raise NotFound("no such request", field="id")
        if not export_available(row):
            raise Conflict(
                "an export exists only for an approved, identity-verified access or "
                "portability request",
                code="export_not_available",
            )
        if staff is not None:
            audit.record_txn(
                session=session,
                actor=staff,
                action="export.download",
                customer_id=row["customer_id"],
                purpose=purpose,
                now=now,
                detail={"request": request_id},
            )
        sections = collect_sections_txn(
            session=session, secrets=secrets, customer_id=row["customer_id"]
        )
    document = {
        "schema_version": SCHEMA_VERSION,
        "generated_at": isoformat(now),
        "node_id": node_id,
        "customer_id": row["customer_id"],
        "request_id": request_id,
        "sections": sections,
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            zipfile.ZipInfo("export.json", ZIP_TIME),
            json.dumps(document, indent=2, ensure_ascii=False),
            compress_type=zipfile.ZIP_DEFLATED,
        )
        for name, section_rows in sections.items():
            archive.writestr(
                zipfile.ZipInfo(f"{name}.csv", ZIP_TIME),
                _csv(section_rows),
                compress_type=zipfile.ZIP_DEFLATED,
            )
    return ExportFile(
        f"konsort-export-{node_id}-{request_id}.zip", buffer.getvalue(), row["customer_id"]
    )
