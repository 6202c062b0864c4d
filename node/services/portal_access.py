"""Ending a member's access to the portal from the shop's side: the operator API's
``POST /api/v1/customers/{id}/portal-links/revoke`` deletes the customer's
unused one-time links and ends their live portal sessions, in one transaction.

A repeat revokes nothing more (zero and zero), so it needs no Idempotency-Key.
It works for a customer of any status (an erased member's leftover session
ends too); an unknown id is 404. Only opaque ids are read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from node.db import Database
from node.errors import NotFound
from node.store import customers as customer_store
from node.store import staff as store


@dataclass(frozen=True)
class PortalRevocation:
    links_revoked: int
    sessions_ended: int


def revoke_portal_access(db: Database, *, customer_id: str, now: datetime) -> PortalRevocation:
    """Delete the customer's unused portal links and end their portal sessions."""
    with db.transaction() as session:
        if customer_store.customer_status(session=session, customer_id=customer_id) is None:
            raise NotFound("no such customer", field="id")
        links = store.delete_unused_portal_links(session=session, customer_id=customer_id)
        sessions = store.end_customer_portal_sessions(
            session=session, customer_id=customer_id, now=now
        )
    return PortalRevocation(links, sessions)
