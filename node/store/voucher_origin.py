"""SQL for where a voucher came from: the kind of the ledger transaction that
issued it (``reward`` for a local redemption, ``partner-reward`` for one a
partner node paid for). The caller owns the transaction; nothing commits.
"""

from __future__ import annotations

from sqlmodel import Session

from node.store.sql import raw


def voucher_issue_kind(*, session: Session, voucher_id: int) -> str | None:
    """The ``kind`` of the transaction that issued the voucher, or None if there is none."""
    row = raw(session).one(
        "SELECT t.kind FROM voucher v JOIN ledger_transaction t ON t.id = v.transaction_id"
        " WHERE v.id = ?",
        (voucher_id,),
    )
    return str(row[0]) if row else None
