"""Everything the operator's customer page shows about one member, in one call.

The card gathers what other services already answer (the portal's start page
reads the same: node.services.portal): personal data (decrypted here, not
audited: the admin UI page that shows it records the view), balance, the
lots with points left and when each expires, tier and progress, a page of
history, links with partners, vouchers and consents. An erased member's card
holds only the opaque id, status and enrolment date: their personal data is
gone and nothing else about them is shown. Nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from node.db import Database
from node.errors import NotFound
from node.secrets import NodeSecrets
from node.services import consent, ledger, points, profiles, tiers, vouchers
from node.services import personal_data as pd
from node.services.customer_search import member_number
from node.services.erasure import ERASED
from node.services.federation import Federation
from node.services.portal import link_options
from node.settings import Settings
from node.store import customers as customer_store
from node.store import ledger as ledger_store

HISTORY_ROWS = 20
VOUCHER_ROWS = 20


@dataclass(frozen=True)
class Lot:
    points: int
    #: None: the points in this lot never expire.
    expires_at: datetime | None


@dataclass(frozen=True)
class CustomerCard:
    id: str
    member_number: str
    status: str
    enrolled_at: datetime
    profile: pd.PersonalData | None = None
    balance: ledger.Balance | None = None
    lots: list[Lot] = field(default_factory=list)
    tier: tiers.TierStatus | None = None
    history: points.HistoryPage | None = None
    #: links.link_json with the partner's name, newest first.
    links: list[dict[str, Any]] = field(default_factory=list)
    #: vouchers.voucher_json, newest first.
    vouchers: list[dict[str, Any]] = field(default_factory=list)
    #: consent.consent_overview's purposes.
    consents: list[dict[str, Any]] = field(default_factory=list)
    restricted: bool = False

    @property
    def erased(self) -> bool:
        return self.status == ERASED


def open_lots(db: Database, *, customer_id: str, now: datetime) -> list[Lot]:
    """Lots with points left, soonest expiry first, lots that never expire last.

    A lot past its expiry is gone even before the expiry job has run.
    """
    with db.read() as session:
        account = ledger_store.customer_account(session=session, customer_id=customer_id)
        if account is None:
            raise NotFound("no such customer", field="customer_id")
        found = ledger_store.open_lots(session=session, account_id=account[0])
    lots = [
        Lot(lot.remaining, lot.expires_at)
        for lot in found
        if lot.expires_at is None or lot.expires_at > now
    ]
    return sorted(lots, key=lambda lot: (lot.expires_at is None, lot.expires_at or now))


def customer_card(
    db: Database,
    settings: Settings,
    *,
    secrets: NodeSecrets,
    fed: Federation,
    customer_id: str,
    now: datetime,
    history_cursor: str | None = None,
) -> CustomerCard:
    """One member's card; NotFound for an unknown id, a bare card for an erased one."""
    with db.read() as session:
        status = customer_store.customer_status(session=session, customer_id=customer_id)
        if status is None:
            raise NotFound("no such customer", field="customer_id")
        profile = None
        if status[0] != ERASED and customer_store.sealed_profile(
            session=session, customer_id=customer_id
        ):
            profile = profiles.read_profile_txn(
                session=session, secrets=secrets, customer_id=customer_id
            )
    number = member_number(customer_id)
    if status[0] != "active":
        return CustomerCard(customer_id, number, status[0], status[1], profile)
    overview = consent.consent_overview(db, customer_id=customer_id)
    return CustomerCard(
        customer_id,
        number,
        status[0],
        status[1],
        profile,
        balance=ledger.customer_balance(db, customer_id=customer_id, now=now),
        lots=open_lots(db, customer_id=customer_id, now=now),
        tier=tiers.tier_status(db, settings, customer_id=customer_id, now=now),
        history=points.customer_history(
            db, customer_id=customer_id, limit=HISTORY_ROWS, cursor=history_cursor
        ),
        links=link_options(db, fed, customer_id=customer_id).links,
        vouchers=vouchers.customer_vouchers(
            db, settings, customer_id=customer_id, limit=VOUCHER_ROWS, cursor=None, now=now
        ).items,
        consents=overview["purposes"],
        restricted=bool(overview["restricted"]),
    )
