"""SQL for a member's partner rewards and donations (rows of ``federated_operation``)."""

from __future__ import annotations

from sqlmodel import Session

from node.store.federation import _OPERATION, OperationRow, _operation
from node.store.sql import raw


def customer_operations_of_kind(
    *, session: Session, customer_id: str, kind: str, direction: str, limit: int
) -> list[OperationRow]:
    """One member's operations of ``kind`` in ``direction``, newest first."""
    sql = raw(session)
    rows = sql.all(
        f"{_OPERATION} WHERE customer_id = ? AND kind = ? AND direction = ?"
        " ORDER BY id DESC LIMIT ?",
        (customer_id, kind, direction, limit),
    )
    return [_operation(sql, row) for row in rows]


def customer_operation(
    *, session: Session, customer_id: str, public_id: str
) -> OperationRow | None:
    """One of a member's operations by its public id (another member's is None)."""
    sql = raw(session)
    row = sql.one(f"{_OPERATION} WHERE public_id = ? AND customer_id = ?", (public_id, customer_id))
    return _operation(sql, row) if row else None
