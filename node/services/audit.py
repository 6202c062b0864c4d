"""The audit log: who viewed, exported or changed which customer's personal data, and why.

Every entry is one row of ``audit_entry``, numbered by ``seq`` without gaps.
Its ``hash`` is SHA-256 over the canonical JSON of the entry's fields together
with ``prev_hash``, the hash of the entry before it, so editing, inserting or
removing an entry in the middle breaks the chain at that seq and
:func:`verify_chain` (``konsort audit verify``) names it.

Appends happen in the caller's transaction, beside what they record (a profile
read and its entry commit or roll back together). They are serialised so the
chain never forks: on PostgreSQL :func:`record_txn` takes a transaction-scoped
advisory lock before it reads the head; SQLite has a single writer already.
Database triggers refuse UPDATE, and DELETE except of a prefix that an
``audit_anchor`` row covers: :func:`retention_apply_txn` writes the anchor
(the seq and hash the remaining chain continues from), deletes the prefix and
records an ``audit.prune`` entry; verification starts at the latest anchor.

The log holds no personal data: only the opaque customer id, the actor's id,
a purpose token and ``detail`` of tokens (field names, counts), checked here.
Data subjects see the dates, actions and purposes of staff access to their
data (:func:`staff_lookups_txn`, for the access export; CJEU C-579/21 Pankki
S) but not which employee it was. See docs/audit.md.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session

from node.clock import isoformat
from node.db import Database
from node.errors import ValidationFailed
from node.store import audit as store
from node.store.audit import StoredEntry

#: The actions an entry may record. Other modules add theirs with register_action.
ACTIONS: dict[str, str] = {
    "profile.view": "staff read a customer's personal data",
    "profile.change": "staff rectified personal data (detail: fields)",
    "customer.lookup": "staff found a customer by their email",
    "consent.view": "staff read a customer's consent records",
    "request.view": "staff opened a data-subject request",
    "request.decide": "a privacy officer decided a data-subject request",
    "export.create": "an access or portability export was prepared",
    "export.download": "an export of a customer's data was downloaded",
    "restriction.change": "processing of a customer's data was restricted or released",
    "erasure.execute": "a customer's personal data was shredded",
    "retention.apply": "a retention policy deleted personal data",
    "audit.prune": "retention cut the oldest audit entries (detail: through_seq, entries)",
}

#: Documented purposes. Any other token of [a-z_]{1,40} is accepted too.
PURPOSES: dict[str, str] = {
    "customer_service": "helping the customer at the till or the support desk",
    "rectification": "correcting data at the customer's request",
    "access_request": "answering an access or portability request",
    "erasure_request": "handling an erasure request",
    "fraud_check": "investigating suspected fraud or abuse of the program",
    "legal_obligation": "a duty under law, e.g. bookkeeping or an authority's order",
    "retention": "the node's own retention schedule",
    "technical_support": "diagnosing a fault reported by the customer",
}

GENESIS_HASH = "0" * 64
PRUNE = "audit.prune"
SYSTEM = "system"
CUSTOMER = "customer"

_ACTION = re.compile(r"^[a-z]+(\.[a-z_]+)+$")
_PURPOSE = re.compile(r"^[a-z_]{1,40}$")
_ACTOR = re.compile(r"^[A-Za-z0-9_.:-]{1,60}$")
_CUSTOMER_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_DETAIL_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
#: Detail strings are tokens: no spaces or @, so a name or an email cannot pass.
_DETAIL_TOKEN = re.compile(r"^[A-Za-z0-9_.:-]{0,80}$")

Detail = Mapping[str, str | int | bool | list[str]]


def register_action(name: str, description: str) -> None:
    """Add an action to the closed list (at import time of the module that records it)."""
    if not _ACTION.match(name) or len(name) > 40:
        raise ValueError(f"audit action {name!r} must look like area.verb")
    ACTIONS.setdefault(name, description)


def check_purpose(value: str) -> str:
    """A purpose token as given in a ``Konsort-Purpose`` header, or a 422."""
    value = value.strip()
    if not _PURPOSE.match(value):
        raise ValidationFailed(
            "Konsort-Purpose must be a token of a-z and _ (at most 40), e.g. customer_service",
            field="Konsort-Purpose",
        )
    return value


def canonical_time(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%dT%H:%M:%S.%f}Z"


def entry_hash(entry: StoredEntry) -> str:
    """SHA-256 over the canonical JSON of the entry's fields and ``prev_hash``."""
    document = {
        "seq": entry.seq,
        "at": canonical_time(entry.at),
        "actor": entry.actor,
        "action": entry.action,
        "customer_id": entry.customer_id,
        "purpose": entry.purpose,
        "detail": entry.detail,
        "prev_hash": entry.prev_hash,
    }
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _detail_json(detail: Detail | None) -> str:
    document: dict[str, Any] = {}
    for key, value in (detail or {}).items():
        if not _DETAIL_KEY.match(key):
            raise ValueError(f"audit detail key {key!r} is not a token")
        if isinstance(value, list):
            if len(value) > 50 or not all(
                isinstance(item, str) and _DETAIL_TOKEN.match(item) for item in value
            ):
                raise ValueError(f"audit detail {key!r}: a list of at most 50 tokens")
        elif isinstance(value, str) and not _DETAIL_TOKEN.match(value):
            raise ValueError(f"audit detail {key!r}: strings must be short tokens")
        elif not isinstance(value, str | int | bool):
            raise ValueError(f"audit detail {key!r}: not a string, integer, bool or list")
        document[key] = value
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _head_txn(*, session: Session) -> tuple[int, str]:
    last = store.last_entry(session=session)
    if last is not None:
        return last
    anchor = store.latest_anchor(session=session)
    return (anchor.through_seq, anchor.hash) if anchor else (0, GENESIS_HASH)


def record_txn(
    *,
    session: Session,
    actor: str,
    action: str,
    customer_id: str | None,
    purpose: str,
    now: datetime,
    detail: Detail | None = None,
) -> int:
    """Append one entry in the caller's transaction; returns its seq.

    Call it late in the transaction: on PostgreSQL it holds the chain's lock
    until the transaction ends.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}; register_action it first")
    if not _ACTOR.match(actor):
        raise ValueError("audit actor must be an id token, e.g. an API key id")
    if customer_id is not None and not _CUSTOMER_ID.match(customer_id):
        raise ValueError("audit customer_id must be the opaque customer id")
    if not _PURPOSE.match(purpose):
        raise ValueError(f"audit purpose {purpose!r} is not a token")
    detail_text = _detail_json(detail)
    store.lock_chain(session=session)
    seq, prev_hash = _head_txn(session=session)
    entry = StoredEntry(
        seq + 1, now, actor, action, customer_id, purpose, detail_text, prev_hash, ""
    )
    entry = StoredEntry(**{**asdict(entry), "hash": entry_hash(entry)})
    store.insert_entry(session=session, entry=entry)
    return entry.seq


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    #: Entries whose links and hashes were checked.
    checked: int
    first_bad_seq: int | None = None
    reason: str | None = None
    #: The chain starts after this seq (0, or where retention left an anchor).
    starts_after: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS_HASH

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def chain_length(db: Database) -> int:
    with db.read() as session:
        return store.entry_count(session=session)


def verify_chain(
    db: Database,
    *,
    progress: Callable[[int], None] | None = None,
    page_size: int = 1000,
) -> ChainReport:
    """Check every link and hash from the latest anchor on, page by page, in one snapshot."""
    with db.read() as session:
        anchor = store.latest_anchor(session=session)
        start = anchor.through_seq if anchor else 0
        prev_hash = anchor.hash if anchor else GENESIS_HASH
        expected, checked, pruned_through = start + 1, 0, set()

        def broken(seq: int, reason: str) -> ChainReport:
            return ChainReport(False, checked, seq, reason, start, expected - 1, prev_hash)

        while page := store.entries_after(session=session, after_seq=expected - 1, limit=page_size):
            for entry in page:
                if entry.seq != expected:
                    return broken(expected, f"entry {expected} is missing")
                if entry.prev_hash != prev_hash:
                    return broken(entry.seq, "prev_hash is not the previous entry's hash")
                if entry_hash(entry) != entry.hash:
                    return broken(entry.seq, "hash does not match the entry's contents")
                if entry.action == PRUNE:
                    pruned_through.add(json.loads(entry.detail).get("through_seq"))
                prev_hash, expected, checked = entry.hash, expected + 1, checked + 1
            if progress is not None:
                progress(len(page))
        if anchor is not None and anchor.through_seq not in pruned_through:
            return broken(start + 1, f"no audit.prune entry records the anchor at seq {start}")
    return ChainReport(True, checked, None, None, start, expected - 1, prev_hash)


def _public(entry: StoredEntry) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "at": isoformat(entry.at),
        "actor": entry.actor,
        "action": entry.action,
        "customer_id": entry.customer_id,
        "purpose": entry.purpose,
        "detail": json.loads(entry.detail),
        "hash": entry.hash,
    }


def list_entries(
    db: Database, *, customer_id: str | None, after_seq: int, limit: int
) -> tuple[list[dict[str, Any]], int | None]:
    """A page of entries in chain order, and the ``after_seq`` of the next page (if any)."""
    with db.read() as session:
        page = store.entries_after(
            session=session, after_seq=after_seq, limit=limit, customer_id=customer_id
        )
    next_after = page[-1].seq if len(page) == limit else None
    return [_public(entry) for entry in page], next_after


def search_entries(
    db: Database,
    *,
    actor: str | None = None,
    customer_id: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_seq: int | None = None,
    limit: int = 100,
) -> tuple[list[dict[str, Any]], int | None]:
    """Entries matching every given filter, newest first (``until`` exclusive), and
    the ``before_seq`` of the next, older page (if any)."""
    if not 1 <= limit <= 500:
        raise ValidationFailed("limit must be between 1 and 500", field="limit")
    if since is not None and until is not None and until <= since:
        raise ValidationFailed("the end must be after the start", field="until")
    with db.read() as session:
        page = store.search_entries(
            session=session,
            limit=limit,
            before_seq=before_seq,
            actor=actor,
            customer_id=customer_id,
            action=action,
            since=since,
            until=until,
        )
    next_before = page[-1].seq if len(page) == limit else None
    return [_public(entry) for entry in page], next_before


def latest_entries(db: Database, *, customer_id: str | None, limit: int) -> list[dict[str, Any]]:
    with db.read() as session:
        page = store.latest_entries(session=session, limit=limit, customer_id=customer_id)
    return [_public(entry) for entry in page]


def staff_lookups_txn(*, session: Session, customer_id: str) -> list[dict[str, Any]]:
    """Dates, actions and purposes of access to a customer's data by staff or the node.

    For the access export. ``by`` is "staff" or "system", never the employee:
    their identity is the staff member's personal data, which Pankki S says
    need not be given in principle. The customer's own actions are left out.
    """
    return [
        {
            "at": isoformat(at),
            "action": action,
            "purpose": purpose,
            "by": SYSTEM if actor == SYSTEM else "staff",
        }
        for at, action, purpose, actor in store.customer_entries(
            session=session, customer_id=customer_id, exclude_actor=CUSTOMER
        )
    ]


def retention_due_txn(*, session: Session, cutoff: datetime, limit: int) -> list[str]:
    """Seqs (as strings) of the oldest entries before ``cutoff``: a prefix of the chain."""
    due: list[str] = []
    for seq, at in store.oldest_entries(session=session, limit=limit):
        if at >= cutoff:
            break
        due.append(str(seq))
    return due


def retention_apply_txn(*, session: Session, ids: Sequence[str], now: datetime) -> int:
    """Prune the given entries as far as they form a prefix of the chain; returns how many.

    Writes the anchor first (the triggers allow deleting only behind one),
    then deletes, then records an ``audit.prune`` entry. Ids that are not part
    of the prefix are left alone.
    """
    store.lock_chain(session=session)
    oldest = store.oldest_entries(session=session, limit=1)
    if not oldest or not ids:
        return 0
    first = expected = oldest[0][0]
    through: int | None = None
    for seq in sorted({int(value) for value in ids}):
        if seq < expected:
            continue
        if seq != expected:
            break
        through, expected = seq, seq + 1
    if through is None:
        return 0
    through_hash = store.entry_hash(session=session, seq=through)
    assert through_hash is not None
    store.insert_anchor(
        session=session,
        through_seq=through,
        hash=through_hash,
        entries=through - first + 1,
        now=now,
    )
    deleted = store.delete_through(session=session, through_seq=through)
    record_txn(
        session=session,
        actor=SYSTEM,
        action=PRUNE,
        customer_id=None,
        purpose="retention",
        now=now,
        detail={"through_seq": through, "entries": deleted},
    )
    return deleted
