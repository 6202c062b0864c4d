"""The record of processing activities (GDPR Art. 30), generated from the node itself.

Nothing here is typed in by hand: the purposes and their wording come from the
consent tables, the retention periods from the settings the retention engine
runs with, the recipients from the consortium manifest in force. So the record
says what the node actually does, and changes when the node does.

Art. 30(1) asks for: the controller (a), the purposes (b), the categories of
data subjects and of personal data (c), the recipients (d), transfers to third
countries (e), the time limits for erasure (f) and the security measures (g).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from node.clock import isoformat
from node.db import Database
from node.services import consent_purposes, retention
from node.services.federation import Federation, NotFederated
from node.settings import Settings

#: Art. 30(1)(c): whose data the node holds.
DATA_SUBJECTS = [
    "members of this business's loyalty programme (customers who enrolled)",
    "staff who use the admin UI (account name and role, in the audit log by id)",
]

#: Art. 30(1)(c): what the node holds about a member, and how it is kept.
DATA_CATEGORIES = [
    {
        "category": "contact and identity details",
        "fields": ["name", "email", "phone", "birthday"],
        "storage": "sealed per member with AES-256-GCM under the member's own data key",
    },
    {
        "category": "look-up digests",
        "fields": ["email digest", "birth-month digest"],
        "storage": "keyed HMAC-SHA-256; the plain value is never stored",
    },
    {
        "category": "programme records",
        "fields": ["points ledger", "purchases", "vouchers", "tier", "paid membership"],
        "storage": "under an opaque member id only",
    },
    {
        "category": "consent records",
        "fields": ["purpose", "granted or withdrawn", "wording version", "time", "channel"],
        "storage": "append-only, under the opaque member id",
    },
    {
        "category": "data-subject requests",
        "fields": ["type", "state", "dates", "outcome"],
        "storage": "the member's own words sealed with their data key until closed",
    },
    {
        "category": "partner links",
        "fields": ["pairwise pseudonyms per partner"],
        "storage": "no identifier a partner could use elsewhere",
    },
    {
        "category": "staff access log",
        "fields": ["who", "what", "when", "why", "opaque member id"],
        "storage": "append-only, hash-chained audit log",
    },
]

#: Art. 30(1)(g), with Art. 32(1): the technical and organisational measures.
SECURITY_MEASURES = [
    "personal data encrypted per member (AES-256-GCM); data keys wrapped by the node's master key",
    "key files on disk with mode 0600; the master key never leaves the node",
    "erasure destroys the member's data key and deletes the sealed profile (crypto-shredding)",
    "no personal data in protocol messages, logs or error texts; partners see pseudonyms only",
    "protocol messages signed with Ed25519 and checked against the consortium manifest",
    "API keys stored as SHA-256 digests; staff passwords as argon2 hashes",
    "every staff view, change or export of a member's personal data in a hash-chained audit log",
    "retention policies run on a schedule and record each run",
]


def records_of_processing(
    db: Database, settings: Settings, fed: Federation | None, *, now: datetime
) -> dict[str, Any]:
    """The Art. 30 record as a JSON document (``fed`` None: no consortium, no recipients)."""
    purposes: list[dict[str, Any]] = [
        {
            "purpose": found.purpose,
            "legal_basis": "contract (Art. 6(1)(b))"
            if found.legal_basis == consent_purposes.CONTRACT
            else "consent (Art. 6(1)(a))",
            "title": found.current.title,
            "wording_version": found.current.version,
            "wording": found.current.text,
        }
        for found in consent_purposes.list_purposes(db)
    ]
    purposes.append(
        {
            "purpose": "bookkeeping",
            "legal_basis": "legal obligation (Art. 6(1)(c)): bookkeeping law",
            "title": "Keeping the books",
            "wording_version": None,
            "wording": "Transactions are kept for five years after the end of the financial "
            "year, under an opaque member id, also after an erasure.",
        }
    )
    return {
        "generated_at": isoformat(now),
        "controller": {"node_id": settings.node_id, "name": settings.display_name},
        "purposes": purposes,
        "data_subjects": DATA_SUBJECTS,
        "data_categories": DATA_CATEGORIES,
        "recipients": _recipients(db, fed),
        "third_country_transfers": "none made by the node itself; each recipient above is "
        "reached at its endpoint, which the operator must check",
        "retention": retention.policies_json(settings, now=now),
        "security_measures": SECURITY_MEASURES,
    }


def _recipients(db: Database, fed: Federation | None) -> list[dict[str, Any]]:
    """Consortium members: what each may receive about a member (never personal data)."""
    if fed is None:
        return []
    try:
        manifest = fed.manifest(db)
    except NotFederated:
        return []
    return [
        {
            "node_id": member.node_id,
            "name": member.display_name,
            "kind": member.kind,
            "status": member.status,
            "endpoint": member.endpoint,
            "receives": "a pairwise pseudonym and point amounts, only for members who linked "
            "their account there and consented to partner transfers",
        }
        for member in manifest.members
        if member.node_id != fed.node_id
    ]


def as_markdown(record: dict[str, Any]) -> str:
    """The record for people: a Markdown document a privacy officer can file."""
    controller = record["controller"]
    lines = [
        f"# Record of processing activities: {controller['name']} ({controller['node_id']})",
        "",
        f"Generated {record['generated_at']} from the node's own configuration (GDPR Art. 30).",
        "",
        "## Purposes and legal bases",
        "",
    ]
    lines += [
        f"- **{p['title']}** (`{p['purpose']}`): {p['legal_basis']}" for p in record["purposes"]
    ]
    lines += ["", "## Data subjects", ""] + [f"- {s}" for s in record["data_subjects"]]
    lines += ["", "## Categories of personal data", ""]
    lines += [
        f"- **{c['category']}**: {', '.join(c['fields'])}; {c['storage']}"
        for c in record["data_categories"]
    ]
    lines += ["", "## Recipients", ""]
    lines += [
        f"- {r['name']} (`{r['node_id']}`, {r['kind']}, {r['status']}): {r['receives']}"
        for r in record["recipients"]
    ] or ["- none: this node belongs to no consortium yet"]
    lines += ["", "## Transfers to third countries", "", record["third_country_transfers"]]
    lines += ["", "## Time limits for erasure", ""]
    for policy in record["retention"]:
        keep = "kept" if policy["keeps_forever"] else f"{policy['duration']} {policy['unit']}"
        lines.append(
            f"- **{policy['category']}** ({keep}, then {policy['action']}): {policy['description']}"
        )
    lines += ["", "## Security measures", ""] + [f"- {m}" for m in record["security_measures"]]
    return "\n".join(lines) + "\n"
