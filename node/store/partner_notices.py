"""SQL for partner notices, and for what a notice does to a partner link."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from node.store.sql import RawSQL, raw

# -- notices ----------------------------------------------------------------------


@dataclass(frozen=True)
class NoticeRow:
    public_id: str
    request_ref: str
    kind: str
    partner: str
    customer_id: str
    message_id: str
    state: str
    reason: str | None
    sends: int
    receipt: str | None
    receipt_token: str | None
    sent_at: datetime
    answered_at: datetime | None
    #: From the outbox: delivery attempts of the current message and the last error.
    attempts: int
    last_error: str | None


_NOTICE = (
    "SELECT n.public_id, n.request_ref, n.kind, n.partner, n.customer_id, n.message_id,"
    " n.state, n.reason, n.sends, n.receipt, n.receipt_token, n.sent_at, n.answered_at,"
    " o.attempts, o.last_error"
    " FROM partner_notice n LEFT JOIN outbox_message o ON o.message_id = n.message_id"
)


def _notice(sql: RawSQL, row: tuple[object, ...]) -> NoticeRow:
    return NoticeRow(
        public_id=str(row[0]),
        request_ref=str(row[1]),
        kind=str(row[2]),
        partner=str(row[3]),
        customer_id=str(row[4]),
        message_id=str(row[5]),
        state=str(row[6]),
        reason=None if row[7] is None else str(row[7]),
        sends=int(row[8]),  # type: ignore[call-overload]
        receipt=None if row[9] is None else str(row[9]),
        receipt_token=None if row[10] is None else str(row[10]),
        sent_at=sql.parse_time(row[11]),
        answered_at=None if row[12] is None else sql.parse_time(row[12]),
        attempts=int(row[13] or 0),  # type: ignore[call-overload]
        last_error=None if row[14] is None else str(row[14]),
    )


def insert_notice(
    *,
    session: Session,
    public_id: str,
    request_ref: str,
    kind: str,
    partner: str,
    customer_id: str,
    message_id: str,
    now: datetime,
) -> None:
    sql = raw(session)
    sql.execute(
        "INSERT INTO partner_notice (public_id, request_ref, kind, partner, customer_id,"
        " message_id, state, sends, sent_at) VALUES (?, ?, ?, ?, ?, ?, 'queued', 1, ?)",
        (public_id, request_ref, kind, partner, customer_id, message_id, sql.time(now)),
    )


def notices_for_request(
    *, session: Session, request_ref: str, kind: str | None = None
) -> list[NoticeRow]:
    sql = raw(session)
    if kind is None:
        rows = sql.all(f"{_NOTICE} WHERE n.request_ref = ? ORDER BY n.id", (request_ref,))
    else:
        rows = sql.all(
            f"{_NOTICE} WHERE n.request_ref = ? AND n.kind = ? ORDER BY n.id", (request_ref, kind)
        )
    return [_notice(sql, row) for row in rows]


def notice_by_public_id(*, session: Session, public_id: str) -> NoticeRow | None:
    sql = raw(session)
    row = sql.one(f"{_NOTICE} WHERE n.public_id = ?", (public_id,))
    return None if row is None else _notice(sql, row)


def notice_by_message_id(*, session: Session, message_id: str) -> NoticeRow | None:
    sql = raw(session)
    row = sql.one(f"{_NOTICE} WHERE n.message_id = ?", (message_id,))
    return None if row is None else _notice(sql, row)


def record_answer(
    *,
    session: Session,
    message_id: str,
    state: str,
    reason: str | None,
    receipt: str,
    receipt_token: str,
    now: datetime,
) -> None:
    sql = raw(session)
    sql.execute(
        "UPDATE partner_notice SET state = ?, reason = ?, receipt = ?, receipt_token = ?,"
        " answered_at = ? WHERE message_id = ?",
        (state, reason, receipt, receipt_token, sql.time(now), message_id),
    )


def resend(*, session: Session, message_id: str, new_message_id: str) -> None:
    """The notice now travels as ``new_message_id`` (signed again)."""
    raw(session).execute(
        "UPDATE partner_notice SET message_id = ?, sends = sends + 1 WHERE message_id = ?",
        (new_message_id, message_id),
    )


# -- what notices do to links -------------------------------------------------------


def erase_link(*, session: Session, link_id: int, now: datetime) -> None:
    """Mark a link erased and overwrite both pseudonyms with a tombstone that
    names nothing (the columns are required and ``(partner, our_subject)`` unique)."""
    sql = raw(session)
    tombstone = f"erased-{link_id}"
    sql.execute(
        "UPDATE partner_link SET status = 'erased', revoked_at = COALESCE(revoked_at, ?),"
        " our_subject = ?, partner_subject = ? WHERE id = ?",
        (sql.time(now), tombstone, tombstone, link_id),
    )


def delete_link(*, session: Session, link_id: int) -> None:
    raw(session).execute("DELETE FROM partner_link WHERE id = ?", (link_id,))


def delete_unused_link_codes(*, session: Session, customer_id: str, partner: str) -> int:
    result = raw(session).execute(
        "DELETE FROM link_code WHERE customer_id = ? AND partner = ? AND used_at IS NULL",
        (customer_id, partner),
    )
    return max(result.rowcount or 0, 0)


def last_operation_with(*, session: Session, customer_id: str, peer: str) -> datetime | None:
    """When the customer's latest cross-node operation with ``peer`` was made, if any."""
    sql = raw(session)
    row = sql.one(
        "SELECT max(created_at) FROM federated_operation WHERE customer_id = ? AND peer = ?",
        (customer_id, peer),
    )
    return None if row is None or row[0] is None else sql.parse_time(row[0])
