"""SQL for federation: manifests, links, inbox, outbox, operations, clearing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from node.store.sql import raw

# -- manifest ---------------------------------------------------------------------


def latest_manifest(*, session: Session) -> tuple[int, str] | None:
    row = raw(session).one(
        "SELECT version, token FROM federation_manifest ORDER BY version DESC LIMIT 1"
    )
    return (int(row[0]), str(row[1])) if row else None


def latest_manifest_version(*, session: Session) -> int | None:
    row = raw(session).one("SELECT max(version) FROM federation_manifest")
    return int(row[0]) if row and row[0] is not None else None


def insert_manifest(
    *, session: Session, version: int, consortium: str, token: str, now: datetime
) -> None:
    sql = raw(session)
    sql.execute(
        "INSERT INTO federation_manifest (version, consortium, token, loaded_at)"
        " VALUES (?, ?, ?, ?)",
        (version, consortium, token, sql.time(now)),
    )


# -- links ------------------------------------------------------------------------


@dataclass(frozen=True)
class LinkRow:
    id: int
    customer_id: str
    partner: str
    our_subject: str
    partner_subject: str
    status: str
    created_at: datetime


_LINK = (
    "SELECT id, customer_id, partner, our_subject, partner_subject, status, created_at"
    " FROM partner_link"
)


def _link(sql: object, row: tuple[object, ...] | None) -> LinkRow | None:
    if row is None:
        return None
    parse = sql.parse_time  # type: ignore[attr-defined]
    return LinkRow(
        int(row[0]),  # type: ignore[call-overload]
        str(row[1]),
        str(row[2]),
        str(row[3]),
        str(row[4]),
        str(row[5]),
        parse(row[6]),
    )


def link_for_customer(*, session: Session, customer_id: str, partner: str) -> LinkRow | None:
    sql = raw(session)
    return _link(
        sql, sql.one(f"{_LINK} WHERE customer_id = ? AND partner = ?", (customer_id, partner))
    )


def link_by_subject(*, session: Session, partner: str, our_subject: str) -> LinkRow | None:
    sql = raw(session)
    return _link(
        sql, sql.one(f"{_LINK} WHERE partner = ? AND our_subject = ?", (partner, our_subject))
    )


def link_by_our_subject(*, session: Session, our_subject: str) -> LinkRow | None:
    sql = raw(session)
    return _link(sql, sql.one(f"{_LINK} WHERE our_subject = ?", (our_subject,)))


def customer_links(*, session: Session, customer_id: str) -> list[LinkRow]:
    sql = raw(session)
    rows = sql.all(f"{_LINK} WHERE customer_id = ? ORDER BY partner", (customer_id,))
    return [link for link in (_link(sql, row) for row in rows) if link is not None]


def save_link(
    *,
    session: Session,
    customer_id: str,
    partner: str,
    our_subject: str,
    partner_subject: str,
    status: str,
    now: datetime,
) -> None:
    """Create the link, or set an existing one (say, revoked) to ``status`` again."""
    sql = raw(session)
    existing = link_for_customer(session=session, customer_id=customer_id, partner=partner)
    if existing is None:
        sql.execute(
            "INSERT INTO partner_link (customer_id, partner, our_subject, partner_subject,"
            " status, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (customer_id, partner, our_subject, partner_subject, status, sql.time(now)),
        )
    else:
        sql.execute(
            "UPDATE partner_link SET partner_subject = ?, status = ?, revoked_at = NULL"
            " WHERE id = ?",
            (partner_subject, status, existing.id),
        )


def set_link_status(*, session: Session, link_id: int, status: str, now: datetime) -> None:
    sql = raw(session)
    revoked = sql.time(now) if status == "revoked" else None
    sql.execute(
        "UPDATE partner_link SET status = ?, revoked_at = ? WHERE id = ?",
        (status, revoked, link_id),
    )


def insert_link_code(
    *,
    session: Session,
    code_digest: str,
    customer_id: str,
    partner: str,
    now: datetime,
    expires_at: datetime,
) -> None:
    sql = raw(session)
    sql.execute(
        "INSERT INTO link_code (code_digest, customer_id, partner, created_at, expires_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (code_digest, customer_id, partner, sql.time(now), sql.time(expires_at)),
    )


def use_link_code(*, session: Session, code_digest: str, partner: str, now: datetime) -> str | None:
    """Mark an unused, unexpired code for ``partner`` used; its customer, or None."""
    sql = raw(session)
    row = sql.one(
        "UPDATE link_code SET used_at = ? WHERE code_digest = ? AND partner = ?"
        " AND used_at IS NULL AND expires_at > ? RETURNING customer_id",
        (sql.time(now), code_digest, partner, sql.time(now)),
    )
    return str(row[0]) if row else None


# -- inbox ------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredAnswer:
    message_type: str
    outcome: str
    reason: str | None
    answer_body: str
    answer_token: str
    answer_expires_at: int


def stored_answer(*, session: Session, issuer: str, message_id: str) -> StoredAnswer | None:
    row = raw(session).one(
        "SELECT message_type, outcome, reason, answer_body, answer_token, answer_expires_at"
        " FROM inbox_message WHERE issuer = ? AND message_id = ?",
        (issuer, message_id),
    )
    if row is None:
        return None
    return StoredAnswer(str(row[0]), str(row[1]), row[2], str(row[3]), str(row[4]), int(row[5]))


def insert_inbox(
    *,
    session: Session,
    issuer: str,
    message_id: str,
    message_type: str,
    request_iat: int,
    outcome: str,
    reason: str | None,
    answer_body: str,
    answer_token: str,
    answer_expires_at: int,
    now: datetime,
) -> None:
    sql = raw(session)
    sql.execute(
        "INSERT INTO inbox_message (issuer, message_id, message_type, received_at, request_iat,"
        " outcome, reason, answer_body, answer_token, answer_expires_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            issuer,
            message_id,
            message_type,
            sql.time(now),
            request_iat,
            outcome,
            reason,
            answer_body,
            answer_token,
            answer_expires_at,
        ),
    )


def replace_answer_token(
    *, session: Session, issuer: str, message_id: str, token: str, expires_at: int
) -> None:
    raw(session).execute(
        "UPDATE inbox_message SET answer_token = ?, answer_expires_at = ?"
        " WHERE issuer = ? AND message_id = ?",
        (token, expires_at, issuer, message_id),
    )


# -- outbox -----------------------------------------------------------------------


@dataclass(frozen=True)
class OutboxRow:
    id: int
    message_id: str
    destination: str
    message_type: str
    token: str
    attempts: int
    expires_at: datetime
    #: A worker took it to send before: it may have reached the partner.
    handed_out: bool = False


def insert_outbox(
    *,
    session: Session,
    message_id: str,
    destination: str,
    message_type: str,
    token: str,
    now: datetime,
    expires_at: datetime,
) -> None:
    sql = raw(session)
    sql.execute(
        "INSERT INTO outbox_message (message_id, destination, message_type, token, status,"
        " attempts, next_attempt_at, created_at, expires_at)"
        " VALUES (?, ?, ?, ?, 'pending', 0, ?, ?, ?)",
        (
            message_id,
            destination,
            message_type,
            token,
            sql.time(now),
            sql.time(now),
            sql.time(expires_at),
        ),
    )


def claim_due(
    *, session: Session, now: datetime, lease_until: datetime, limit: int
) -> list[OutboxRow]:
    """Pending messages due now, leased until ``lease_until`` (skip locked on PostgreSQL)."""
    sql = raw(session)
    lock = "" if sql.is_sqlite else " FOR UPDATE SKIP LOCKED"
    rows = sql.all(
        "SELECT id, message_id, destination, message_type, token, attempts, expires_at,"
        " handed_out_at FROM outbox_message WHERE status = 'pending' AND next_attempt_at <= ?"
        f" ORDER BY next_attempt_at, id LIMIT ?{lock}",
        (sql.time(now), limit),
    )
    claimed = [
        OutboxRow(
            int(r[0]),
            str(r[1]),
            str(r[2]),
            str(r[3]),
            str(r[4]),
            int(r[5]),
            sql.parse_time(r[6]),
            r[7] is not None,
        )
        for r in rows
    ]
    if claimed:
        marks = ", ".join("?" * len(claimed))
        sql.execute(
            f"UPDATE outbox_message SET next_attempt_at = ? WHERE id IN ({marks})",
            (sql.time(lease_until), *(row.id for row in claimed)),
        )
    return claimed


def mark_handed_out(*, session: Session, ids: Sequence[int], now: datetime) -> None:
    """Rows a worker is about to send, marked in the claiming transaction (before the
    send): from now on they may have reached the partner."""
    if not ids:
        return
    sql = raw(session)
    marks = ", ".join("?" * len(ids))
    sql.execute(
        f"UPDATE outbox_message SET handed_out_at = ? WHERE id IN ({marks})"
        " AND handed_out_at IS NULL",
        (sql.time(now), *ids),
    )


def lease(*, session: Session, message_id: str, until: datetime) -> None:
    sql = raw(session)
    sql.execute(
        "UPDATE outbox_message SET next_attempt_at = ? WHERE message_id = ?",
        (sql.time(until), message_id),
    )


def mark_batched(*, session: Session, message_ids: Sequence[str], batch_id: str) -> None:
    """Single requests folded into a batch before they were ever sent."""
    marks = ", ".join("?" * len(message_ids))
    raw(session).execute(
        f"UPDATE outbox_message SET status = 'batched', last_error = ? WHERE message_id IN"
        f" ({marks}) AND status = 'pending' AND attempts = 0 AND handed_out_at IS NULL",
        (f"sent in batch {batch_id}", *message_ids),
    )


def outbox_row(*, session: Session, message_id: str) -> OutboxRow | None:
    sql = raw(session)
    row = sql.one(
        "SELECT id, message_id, destination, message_type, token, attempts, expires_at,"
        " handed_out_at FROM outbox_message WHERE message_id = ?",
        (message_id,),
    )
    if row is None:
        return None
    return OutboxRow(
        int(row[0]),
        str(row[1]),
        str(row[2]),
        str(row[3]),
        str(row[4]),
        int(row[5]),
        sql.parse_time(row[6]),
        row[7] is not None,
    )


def rename_operation(*, session: Session, ref: str, new_ref: str, request_iat: int) -> None:
    raw(session).execute(
        "UPDATE federated_operation SET ref = ?, request_iat = ? WHERE ref = ?",
        (new_ref, request_iat, ref),
    )


def mark_answered(
    *, session: Session, message_id: str, outcome: str, reason: str | None, now: datetime
) -> bool:
    """Record the answer once; False if the message was answered already."""
    sql = raw(session)
    row = sql.one(
        "UPDATE outbox_message SET status = 'answered', answered_at = ?, outcome = ?,"
        " reason = ?, last_error = NULL WHERE message_id = ? AND status = 'pending'"
        " RETURNING id",
        (sql.time(now), outcome, reason, message_id),
    )
    return row is not None


def schedule_retry(
    *, session: Session, message_id: str, next_attempt_at: datetime, error: str
) -> None:
    sql = raw(session)
    sql.execute(
        "UPDATE outbox_message SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?"
        " WHERE message_id = ? AND status = 'pending'",
        (sql.time(next_attempt_at), error[:200], message_id),
    )


@dataclass(frozen=True)
class OutboxSummary:
    destination: str
    pending: int
    retrying: int
    answered: int
    oldest_pending: datetime | None
    last_error: str | None


def outbox_summary(*, session: Session) -> list[OutboxSummary]:
    sql = raw(session)
    rows = sql.all(
        "SELECT destination,"
        " sum(CASE WHEN status = 'pending' AND attempts = 0 THEN 1 ELSE 0 END),"
        " sum(CASE WHEN status = 'pending' AND attempts > 0 THEN 1 ELSE 0 END),"
        " sum(CASE WHEN status = 'answered' THEN 1 ELSE 0 END),"
        " min(CASE WHEN status = 'pending' THEN created_at END),"
        " max(CASE WHEN status = 'pending' THEN last_error END)"
        " FROM outbox_message GROUP BY destination ORDER BY destination"
    )
    return [
        OutboxSummary(
            str(r[0]),
            int(r[1] or 0),
            int(r[2] or 0),
            int(r[3] or 0),
            sql.parse_time(r[4]) if r[4] is not None else None,
            r[5],
        )
        for r in rows
    ]


# -- operations and clearing --------------------------------------------------------


@dataclass(frozen=True)
class OperationRow:
    id: int
    public_id: str
    kind: str
    direction: str
    peer: str
    ref: str
    customer_id: str
    points: int
    peer_points: int
    value_minor: int
    kept_minor: int
    status: str
    reason: str | None
    request_iat: int
    detail: str | None
    created_at: datetime
    updated_at: datetime


_OPERATION = (
    "SELECT id, public_id, kind, direction, peer, ref, customer_id, points, peer_points,"
    " value_minor, kept_minor, status, reason, request_iat, detail, created_at, updated_at"
    " FROM federated_operation"
)


def _operation(sql: object, row: tuple[object, ...]) -> OperationRow:
    parse = sql.parse_time  # type: ignore[attr-defined]
    values = list(row)
    return OperationRow(
        int(values[0]),  # type: ignore[call-overload]
        str(values[1]),
        str(values[2]),
        str(values[3]),
        str(values[4]),
        str(values[5]),
        str(values[6]),
        int(values[7]),  # type: ignore[call-overload]
        int(values[8]),  # type: ignore[call-overload]
        int(values[9]),  # type: ignore[call-overload]
        int(values[10]),  # type: ignore[call-overload]
        str(values[11]),
        values[12],  # type: ignore[arg-type]
        int(values[13]),  # type: ignore[call-overload]
        values[14],  # type: ignore[arg-type]
        parse(values[15]),
        parse(values[16]),
    )


def insert_operation(
    *,
    session: Session,
    public_id: str,
    kind: str,
    direction: str,
    peer: str,
    ref: str,
    customer_id: str,
    points: int,
    peer_points: int,
    value_minor: int,
    kept_minor: int,
    status: str,
    reason: str | None,
    request_iat: int,
    detail: str | None,
    now: datetime,
) -> None:
    sql = raw(session)
    sql.execute(
        "INSERT INTO federated_operation (public_id, kind, direction, peer, ref, customer_id,"
        " points, peer_points, value_minor, kept_minor, status, reason, request_iat, detail,"
        " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            public_id,
            kind,
            direction,
            peer,
            ref,
            customer_id,
            points,
            peer_points,
            value_minor,
            kept_minor,
            status,
            reason,
            request_iat,
            detail,
            sql.time(now),
            sql.time(now),
        ),
    )


def operation_by_ref(*, session: Session, ref: str) -> OperationRow | None:
    sql = raw(session)
    row = sql.one(f"{_OPERATION} WHERE ref = ?", (ref,))
    return _operation(sql, row) if row else None


def finish_operation(
    *,
    session: Session,
    ref: str,
    status: str,
    reason: str | None,
    detail: str | None,
    now: datetime,
    from_statuses: Sequence[str] = ("pending", "expired_unresolved"),
) -> bool:
    """Move an operation to a final status once; False if it was final already."""
    sql = raw(session)
    marks = ", ".join("?" * len(from_statuses))
    row = sql.one(
        "UPDATE federated_operation SET status = ?, reason = ?, detail = coalesce(?, detail),"
        f" updated_at = ? WHERE ref = ? AND status IN ({marks}) RETURNING id",
        (status, reason, detail, sql.time(now), ref, *from_statuses),
    )
    return row is not None


def mark_unresolved(*, session: Session, node_id: str, now: datetime) -> int:
    """Pending outgoing operations whose request has expired: in doubt, still delivered."""
    sql = raw(session)
    due = sql.one(
        "SELECT 1 FROM outbox_message WHERE status = 'pending' AND expires_at <= ? LIMIT 1",
        (sql.time(now),),
    )
    if due is None:  # the usual case, read from ix_outbox_expiry
        return 0
    rows = sql.all(
        "UPDATE federated_operation SET status = 'expired_unresolved', updated_at = ?"
        " WHERE direction = 'out' AND status = 'pending' AND EXISTS (SELECT 1 FROM"
        " outbox_message o WHERE o.status = 'pending' AND o.expires_at <= ? AND"
        " (federated_operation.ref = ? || ':' || o.message_id"
        " OR federated_operation.ref LIKE ? || ':' || o.message_id || ?))"
        " RETURNING id",
        (sql.time(now), sql.time(now), node_id, node_id, ":%"),
    )
    return len(rows)


def customer_operations(*, session: Session, customer_id: str, limit: int) -> list[OperationRow]:
    sql = raw(session)
    rows = sql.all(
        f"{_OPERATION} WHERE customer_id = ? ORDER BY id DESC LIMIT ?", (customer_id, limit)
    )
    return [_operation(sql, row) for row in rows]


def insert_clearing(
    *,
    session: Session,
    peer: str,
    ref: str,
    kind: str,
    creditor: str,
    value_minor: int,
    request_iat: int,
    now: datetime,
) -> None:
    sql = raw(session)
    sql.execute(
        "INSERT INTO clearing_entry (peer, ref, kind, creditor, value_minor, request_iat,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (peer, ref, kind, creditor, value_minor, request_iat, sql.time(now)),
    )


def clearing_totals(*, session: Session) -> list[tuple[str, str, int, int]]:
    """(peer, creditor, entries, value) per pair and direction."""
    rows = raw(session).all(
        "SELECT peer, creditor, count(*), sum(value_minor) FROM clearing_entry"
        " GROUP BY peer, creditor ORDER BY peer, creditor"
    )
    return [(str(r[0]), str(r[1]), int(r[2]), int(r[3])) for r in rows]
