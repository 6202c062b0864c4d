"""Destroying a customer's personal data at this node (crypto-shredding).

:func:`shred_personal_data_txn` is the one primitive every erasure path uses:
an approved erasure request and the retention policy for inactive members.
It deletes the wrapped data key (the sealed profile becomes unreadable for
good), the sealed profile with its email digest, the birthday index, any
unused link codes, personalised offers and challenge progress, and marks the
customer ``erased``. Ledger, clearing and
settlement rows name the customer only by the opaque id, so they stay and
the books still balance; nothing about the person is left to tie that id to.

It does not revoke partner links or tell partners: the request workflow does
that, in the same transaction, through the federation outbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from node.store import sql

ERASED = "erased"

#: Tables holding a customer's personal data, or data derived from it, that
#: erasure deletes outright (table, customer id column).
PERSONAL_TABLES: tuple[tuple[str, str], ...] = (
    ("customer_key", "customer_id"),
    ("customer_profile", "customer_id"),
    ("birthday_index", "customer_id"),
    ("link_code", "customer_id"),
    # What profiling and engagement derived from the member's behaviour; the
    # points they granted stay in the ledger.
    ("customer_offer", "customer_id"),
    ("challenge_progress", "customer_id"),
    ("challenge_category", "customer_id"),
)


@dataclass(frozen=True)
class Shredded:
    customer_id: str
    #: Rows deleted per table; zero everywhere when the customer was already erased.
    deleted: dict[str, int]


def shred_personal_data_txn(*, session: Session, customer_id: str, now: datetime) -> Shredded:
    """Delete the customer's personal rows and mark them erased. Idempotent."""
    db = sql.raw(session)
    deleted: dict[str, int] = {}
    for table, column in PERSONAL_TABLES:
        result = db.execute(f"DELETE FROM {table} WHERE {column} = ?", (customer_id,))
        deleted[table] = max(result.rowcount or 0, 0)
    db.execute("UPDATE customer SET status = ? WHERE id = ?", (ERASED, customer_id))
    del now  # kept in the signature: callers record when, in their own rows
    return Shredded(customer_id, deleted)
