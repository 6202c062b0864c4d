"""The retention categories this module implements, with the registry's signatures.

Each category is a pair of functions run inside a transaction the caller owns:

- ``due(*, session, cutoff, limit) -> list[str]``: opaque ids of items past
  retention (older than ``cutoff``), oldest first, at most ``limit``;
- ``apply(*, session, ids, now) -> int``: remove or anonymise those items and
  return how many changed. Applying an id twice changes nothing the second
  time, so a repeated run, or two processes running at once, is harmless.

and optionally ``count(*, session, cutoff) -> int`` for dry runs and progress.

Categories here:

- inactive customers' personal data (anonymise by crypto-shredding);
- delivered federation messages (delete; rows still evidence for a settlement
  period that is not agreed are kept);
- transaction details of erased members beyond the bookkeeping period
  (anonymise; the append-only ledger stays).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session

from node.services import partner_notices
from node.services.erasure import ERASED, shred_personal_data_txn
from node.services.federation import Federation
from node.store import retention as store
from node.store.retention import customer_t

ACTIVE = "active"


# -- inactive customers -------------------------------------------------------------


def inactive_customers_due_txn(*, session: Session, cutoff: datetime, limit: int) -> list[str]:
    """Active members with no ledger transaction since ``cutoff`` (nor enrolled since)."""
    return store.idle_members(session=session, status=ACTIVE, cutoff=cutoff, limit=limit)


def inactive_customers_count_txn(*, session: Session, cutoff: datetime) -> int:
    return store.count_idle_members(session=session, status=ACTIVE, cutoff=cutoff)


def inactive_customers_apply_txn(
    *, session: Session, ids: Sequence[str], now: datetime, fed: Federation | None = None
) -> int:
    """Crypto-shred each member still active; the ledger keeps their opaque id.

    A member with partner links has them revoked and each partner gets an
    erasure notice, in the same transaction (as for an erasure request). Without
    the node's federation (a node outside any consortium) such a member is
    skipped: nothing can be revoked or told, so nothing is erased half-way.
    """
    if not ids:
        return 0
    still_active = session.execute(
        select(customer_t.c.id).where(customer_t.c.id.in_(list(ids)), customer_t.c.status == ACTIVE)
    ).scalars()
    shredded = 0
    for customer_id in sorted(still_active):
        linked = partner_notices.has_live_links_txn(session=session, customer_id=customer_id)
        if linked and fed is None:
            continue
        shred_personal_data_txn(session=session, customer_id=customer_id, now=now)
        if linked and fed is not None:
            partner_notices.notify_partners_txn(
                session=session,
                fed=fed,
                customer_id=customer_id,
                request_ref=f"retention:{customer_id}",
                kind="erasure",
                now=now,
            )
        shredded += 1
    return shredded


# -- delivered federation messages --------------------------------------------------

INBOX, OUTBOX = "in", "out"


def federation_messages_due_txn(*, session: Session, cutoff: datetime, limit: int) -> list[str]:
    """``in:<issuer>:<message id>`` and ``out:<row id>`` of messages past ``cutoff``.

    Outbox rows only once answered (final). Rows whose request falls in a
    settlement period with the peer that is not yet agreed are kept.
    """
    periods = store.open_periods(session=session)
    found: list[tuple[datetime, str]] = [
        (at, f"{INBOX}:{issuer}:{message_id}")
        for at, issuer, message_id in store.inbox_due(
            session=session, cutoff=cutoff, periods=periods, limit=limit
        )
    ]
    found += [
        (at, f"{OUTBOX}:{row_id}")
        for at, row_id in store.outbox_due(
            session=session, cutoff=cutoff, periods=periods, limit=limit
        )
    ]
    found.sort()
    return [ref for _, ref in found[:limit]]


def federation_messages_count_txn(*, session: Session, cutoff: datetime) -> int:
    periods = store.open_periods(session=session)
    return store.count_messages_due(session=session, cutoff=cutoff, periods=periods)


def federation_messages_apply_txn(*, session: Session, ids: Sequence[str], now: datetime) -> int:
    del now  # deletion needs no time
    inbox: list[tuple[str, str]] = []
    outbox: list[int] = []
    for ref in ids:
        kind, _, rest = ref.partition(":")
        if kind == INBOX:
            issuer, _, message_id = rest.partition(":")
            inbox.append((issuer, message_id))
        elif kind == OUTBOX and rest.isdigit():
            outbox.append(int(rest))
    return store.delete_inbox(session=session, keys=inbox) + store.delete_outbox(
        session=session, ids=outbox
    )


# -- transaction details beyond the bookkeeping period ------------------------------


def bookkeeping_details_due_txn(*, session: Session, cutoff: datetime, limit: int) -> list[str]:
    """Erased members whose last transaction is before ``cutoff`` (a financial year's
    start), with details not yet anonymised."""
    return store.erased_members_due(session=session, cutoff=cutoff, limit=limit)


def bookkeeping_details_count_txn(*, session: Session, cutoff: datetime) -> int:
    return store.count_erased_members_due(session=session, cutoff=cutoff)


def bookkeeping_details_apply_txn(*, session: Session, ids: Sequence[str], now: datetime) -> int:
    if not ids:
        return 0
    erased = session.execute(
        select(customer_t.c.id).where(customer_t.c.id.in_(list(ids)), customer_t.c.status == ERASED)
    ).scalars()
    changed = store.anonymise_transaction_details(
        session=session, customer_ids=list(erased), now=now
    )
    return changed.get("customers", 0)
