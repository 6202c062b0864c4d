"""SQL for scheduled settlement: which periods of the schedule hold clearing
entries, and which periods of a pair we have stated already. The caller owns
the transaction; nothing here commits.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from node.store.federation_models import ClearingEntry
from node.store.settlement_models import SettlementPeriodRecord

period_t = SettlementPeriodRecord.__table__  # type: ignore[attr-defined]
clearing_t = ClearingEntry.__table__  # type: ignore[attr-defined]


def clearing_slots(*, session: Session, length: int, before: int) -> list[tuple[str, int]]:
    """``(peer, n)`` for every period ``[n * length, (n + 1) * length)`` that holds a
    clearing entry of the pair and ends by ``before`` (Unix seconds), by peer and n."""
    slot = (clearing_t.c.request_iat // length).label("slot")
    rows = session.execute(
        select(clearing_t.c.peer, slot)
        .where(clearing_t.c.request_iat < before - before % length)
        .group_by(clearing_t.c.peer, slot)
        .order_by(clearing_t.c.peer, slot)
    )
    return [(str(r[0]), int(r[1])) for r in rows]


def stated_bounds(*, session: Session, peer: str) -> list[tuple[int, int]]:
    """``(period_start, period_end)`` of every period of the pair we have, oldest first."""
    rows = session.execute(
        select(period_t.c.period_start, period_t.c.period_end)
        .where(period_t.c.peer == peer)
        .order_by(period_t.c.period_start)
    )
    return [(int(r[0]), int(r[1])) for r in rows]
