"""Carrying out an approved erasure request (GDPR Art. 17), in one transaction.

1. Forfeit the remaining point balance: one ledger posting from
   ``customer:<id>`` to the system account ``erasure:forfeited`` (the ledger
   refuses writes for members who are no longer active, so this comes first).
2. Shred the personal data (node.services.erasure.shred_personal_data_txn):
   the data key, the sealed profile, the birthday index, unused link codes.
3. Revoke the member's partner links and tell the partners (wired by the
   partner-notices part, see the ``# lead:`` line).
4. Write down what is kept, why and until when. Ledger, purchase, clearing
   and settlement rows are kept, pseudonymised (they name only the opaque
   customer id) and restricted, because bookkeeping law needs them: the
   Danish Bookkeeping Act §10 and the Norwegian Bokføringsloven §13 keep
   accounting records for five years after the end of the financial year.
   ``retained_until`` is the end of the financial year of the member's last
   transaction plus five years (setting ``financial_year_end``, default 12-31).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Session

from node.services import audit, erasure, ledger
from node.services.request_effects import (
    EffectOutcome,
    RequestDeps,
    RequestRecord,
    tell_partners_txn,
)
from node.store import ledger as ledger_store
from node.store import subject_requests as store

#: Points a member had left when their data was erased.
FORFEITED = "erasure:forfeited"
BOOKKEEPING_YEARS = 5
BOOKKEEPING_LAW = (
    "bookkeeping law: Danish Bookkeeping Act §10 / Norwegian Bokføringsloven §13, "
    "five years after the end of the financial year"
)
KEPT_CATEGORIES = ("ledger", "purchases", "clearing", "settlement")


def financial_year_end(moment: date, year_end: str) -> date:
    """The last day of the financial year ``moment`` falls in (``year_end`` is "MM-DD")."""
    month, day = (int(part) for part in year_end.split("-"))
    end = date(moment.year, month, day)
    return end if moment <= end else date(moment.year + 1, month, day)


def retained_until(last_transaction: date, year_end: str) -> date:
    end = financial_year_end(last_transaction, year_end)
    return end.replace(year=end.year + BOOKKEEPING_YEARS)


def erasure_effect(
    *, session: Session, node: RequestDeps, request: RequestRecord, now: datetime
) -> EffectOutcome:
    customer_id = request.customer_id
    forfeited = 0
    if store.customer_status(session=session, customer_id=customer_id) == "active":
        # Expires lots past their expiry first, so only live points are forfeited.
        ledger.active_customer_txn(session=session, customer_id=customer_id, now=now)
        found = ledger_store.customer_account(session=session, customer_id=customer_id)
        forfeited = found[1] if found else 0
        if forfeited > 0:
            ledger.debit_points_txn(
                session=session,
                customer_id=customer_id,
                points=forfeited,
                kind="erasure_forfeit",
                target_account=FORFEITED,
                idempotency_key=f"erasure:{request.public_id}",
                reference=request.public_id,
                now=now,
                actor="system",
            )
    shredded = erasure.shred_personal_data_txn(session=session, customer_id=customer_id, now=now)
    audit.record_txn(
        session=session,
        actor=request.actor,
        action="erasure.execute",
        customer_id=customer_id,
        purpose="erasure",
        now=now,
        detail={"request": request.public_id, "tables": sorted(shredded.deleted)},
    )
    # Revokes the member's links here and queues an erasure notice to each partner.
    told = tell_partners_txn(session=session, node=node, request=request, kind="erasure", now=now)
    last = store.last_transaction_at(session=session, customer_id=customer_id)
    until = retained_until(last.date(), node.settings.financial_year_end) if last else None
    kept = (
        [
            {
                "category": category,
                "why": BOOKKEEPING_LAW,
                "form": "pseudonymised (opaque customer id only) and restricted",
                "until": until.isoformat(),
            }
            for category in KEPT_CATEGORIES
        ]
        if until
        else []
    )
    return EffectOutcome(
        "personal data erased; bookkeeping records kept as stated",
        {
            "erased": sorted(shredded.deleted),
            "forfeited_points": forfeited,
            "partners_told": told,
            "kept": kept,
            "retained_until": until.isoformat() if until else None,
        },
    )
