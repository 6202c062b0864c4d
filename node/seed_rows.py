"""The rows one seeded member leaves behind, as the real services would write them.

Pure Python, no database: :func:`member_rows` appends to a :class:`Batch` what
enrolment (node.services.customers), consent (node.services.consent), earning
(node.services.points), redemption (node.services.ledger) and linking
(node.services.links) write for one member over their history:

- ``customer``, ``customer_key`` (a fresh data key wrapped by the node's
  key), ``customer_profile`` (sealed with that data key, keyed email digest),
  ``birthday_index`` (keyed month digest) and the ``customer:<id>`` account;
- consent records against the wording version in force, given at enrolment,
  a few withdrawn later by the member;
- purchases, each with a balanced ``earn`` transaction (``program:issued`` to
  the member) and a lot; redemptions, each a balanced ``redeem`` transaction
  (the member to ``program:redeemed``) that spends lots first in, first out;
- links to partner nodes (our pairwise pseudonym and the partner's), only for
  members whose consent to partner transfers stands.

Times run forward per member from enrolment to ``now``; no lot is past its
expiry at ``now``, so the seeded ledger needs no expiry run.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from node.program.config import Program
from node.program.earning import Line, compute_earning
from node.secrets import NodeSecrets
from node.seed_people import SyntheticMember
from node.services import personal_data as pd
from node.services.bonuses import birth_month_digest
from protocol import pairwise_pseudonym

#: Members enrol within this many days before ``now``; everything they do follows.
HISTORY_DAYS = 330
ACTOR = "dev-seed"
#: Consent purpose -> share of members who grant it at enrolment.
GRANT_SHARE = {
    "partner_transfers": 0.6,
    "marketing": 0.5,
    "analytics": 0.4,
    "personalised_offers": 0.3,
    "profiling": 0.2,
}
WITHDRAWAL_SHARE = 0.05
LINK_SHARE = 0.3
#: After each purchase, the share of members who redeem some points.
REDEEM_SHARE = 0.3

TABLES: dict[str, tuple[str, ...]] = {
    "customer": ("id", "status", "created_at"),
    "customer_key": ("customer_id", "wrapped_key", "created_at"),
    "customer_profile": ("customer_id", "sealed", "email_digest", "updated_at"),
    "birthday_index": ("customer_id", "month_digest"),
    "account": ("id", "code", "kind", "customer_id", "unit", "balance", "created_at"),
    "consent_record": (
        "public_id", "customer_id", "purpose", "granted", "wording_version", "channel",
        "actor", "recorded_at",
    ),
    "ledger_transaction": (
        "id", "public_id", "kind", "customer_id", "points", "idempotency_key", "actor",
        "reference", "created_at",
    ),
    "ledger_entry": ("transaction_id", "account_id", "amount"),
    "point_lot": (
        "id", "account_id", "transaction_id", "amount", "remaining", "earned_at", "expires_at",
    ),
    "lot_movement": ("lot_id", "transaction_id", "amount"),
    "purchase": (
        "customer_id", "transaction_id", "order_ref", "amount", "currency", "points",
        "occurred_at", "program_version", "cashback", "refunded_amount", "reversed_points",
        "reversed_cashback",
    ),
    "partner_link": (
        "customer_id", "partner", "our_subject", "partner_subject", "status", "created_at",
        "revoked_at",
    ),
}  # fmt: skip
#: Tables whose ids the batch assigns (other rows point at them).
ASSIGNED_IDS = ("account", "ledger_transaction", "point_lot")


@dataclass(frozen=True)
class SeedContext:
    """What every member's rows depend on: the node's keys, program and purposes."""

    secrets: NodeSecrets
    now: datetime
    program: Program
    program_version: int
    currency: str
    currency_exponent: int
    issued_account: int
    redeemed_account: int
    #: Consent purpose -> wording version in force.
    purposes: dict[str, int]
    partners: tuple[str, ...]
    #: Turns an aware datetime into what the database driver stores.
    stamp: Callable[[datetime], Any]
    month_digests: dict[int, str] = field(default_factory=dict)

    def month_digest(self, month: int) -> str:
        if month not in self.month_digests:
            self.month_digests[month] = birth_month_digest(self.secrets, month)
        return self.month_digests[month]


class Batch:
    """Rows of many members per table, with the ids it assigned from ``first_ids`` on."""

    def __init__(self, first_ids: dict[str, int]) -> None:
        self.rows: dict[str, list[tuple[Any, ...]]] = {table: [] for table in TABLES}
        self.first_ids = {table: first_ids[table] for table in ASSIGNED_IDS}
        self._next = dict(self.first_ids)

    def new_id(self, table: str) -> int:
        found = self._next[table]
        self._next[table] = found + 1
        return found

    def end_ids(self) -> dict[str, int]:
        """The first id of each assigned table after this batch's."""
        return dict(self._next)

    def count(self, table: str) -> int:
        return len(self.rows[table])


def _public_id(member: SyntheticMember, prefix: str) -> str:
    return f"{prefix}_{member.rng.getrandbits(128):032x}"


def _moments(member: SyntheticMember, start: datetime, end: datetime, count: int) -> list[datetime]:
    span = (end - start).total_seconds()
    return sorted(start + timedelta(seconds=member.rng.uniform(0, span)) for _ in range(count))


def member_rows(batch: Batch, ctx: SeedContext, member: SyntheticMember) -> None:
    """Append every row of one member's history to ``batch``."""
    rng, customer_id, stamp = member.rng, member.customer_id, ctx.stamp
    add = batch.rows
    enrolled = ctx.now - timedelta(seconds=rng.uniform(0, HISTORY_DAYS * 86_400))
    data_key = pd.new_data_key()
    personal = member.personal
    add["customer"].append((customer_id, "active", stamp(enrolled)))
    wrapped = pd.wrap_data_key(ctx.secrets, customer_id, data_key)
    add["customer_key"].append((customer_id, wrapped, stamp(enrolled)))
    digest = pd.email_digest(ctx.secrets, str(personal.email))
    sealed = pd.seal(data_key, customer_id, personal)
    add["customer_profile"].append((customer_id, sealed, digest, stamp(enrolled)))
    if personal.birthday is not None:
        add["birthday_index"].append((customer_id, ctx.month_digest(personal.birthday.month)))
    granted = _consents(batch, ctx, member, enrolled)
    account_id = batch.new_id("account")
    balance = _purchases_and_redemptions(batch, ctx, member, account_id, enrolled)
    code = f"customer:{customer_id}"
    add["account"].append(
        (account_id, code, "customer", customer_id, "points", balance, stamp(enrolled))
    )
    if "partner_transfers" in granted:
        _links(batch, ctx, member, enrolled)


def _consents(batch: Batch, ctx: SeedContext, member: SyntheticMember, at: datetime) -> set[str]:
    """Enrolment answers (granted or not) and a few later withdrawals; the purposes granted now."""
    rng, rows = member.rng, batch.rows["consent_record"]
    granted: set[str] = set()
    for purpose, version in ctx.purposes.items():
        if rng.random() >= GRANT_SHARE.get(purpose, 0.3):
            continue
        rows.append(
            (_public_id(member, "cns"), member.customer_id, purpose, True, version,
             "enrolment", ACTOR, ctx.stamp(at))
        )  # fmt: skip
        if rng.random() < WITHDRAWAL_SHARE:
            later = _moments(member, at, ctx.now, 1)[0]
            rows.append(
                (_public_id(member, "cns"), member.customer_id, purpose, False, version,
                 "customer_api", "customer", ctx.stamp(later))
            )  # fmt: skip
        else:
            granted.add(purpose)
    return granted


def _purchases_and_redemptions(
    batch: Batch, ctx: SeedContext, member: SyntheticMember, account_id: int, enrolled: datetime
) -> int:
    """Write the member's purchases and redemptions in time order; returns the balance."""
    rng, stamp, add = member.rng, ctx.stamp, batch.rows
    lots: list[list[Any]] = []  # [id, account, transaction, amount, remaining, earned, expires]
    balance = 0
    expiry = timedelta(days=ctx.program.expiry.days) if ctx.program.expiry.days else None
    for number, moment in enumerate(_moments(member, enrolled, ctx.now, rng.randint(0, 8))):
        amount = rng.randint(20, 600) * 10**ctx.currency_exponent + rng.choice((0, 50, 95))
        earning = compute_earning(
            ctx.program,
            lines=[Line(amount)],
            moment=moment,
            tier=None,
            currency_exponent=ctx.currency_exponent,
        )
        points, order_ref = earning.points, f"seed-{member.number}-{number}"
        txn = _transaction(batch, ctx, member, "earn", points, order_ref, moment)
        if points:
            add["ledger_entry"].append((txn, ctx.issued_account, -points))
            add["ledger_entry"].append((txn, account_id, points))
            expires = moment + expiry if expiry else None
            lots.append(
                [batch.new_id("point_lot"), account_id, txn, points, points, moment, expires]
            )
            balance += points
        add["purchase"].append(
            (member.customer_id, txn, order_ref, amount, ctx.currency, points, stamp(moment),
             ctx.program_version, 0, 0, 0, 0)
        )  # fmt: skip
        if balance >= 50 and rng.random() < REDEEM_SHARE:
            spend = rng.randint(1, balance // 50) * 50
            redeemed_at = min(ctx.now, moment + timedelta(seconds=rng.uniform(60, 3600)))
            txn = _transaction(
                batch, ctx, member, "redeem", -spend, f"reward-{number}", redeemed_at
            )
            add["ledger_entry"].append((txn, account_id, -spend))
            add["ledger_entry"].append((txn, ctx.redeemed_account, spend))
            _spend(batch, lots, spend, txn)
            balance -= spend
    for lot in lots:
        lot[5], lot[6] = stamp(lot[5]), stamp(lot[6]) if lot[6] else None
        add["point_lot"].append(tuple(lot))
    return balance


def _transaction(
    batch: Batch,
    ctx: SeedContext,
    member: SyntheticMember,
    kind: str,
    points: int,
    reference: str,
    at: datetime,
) -> int:
    txn = batch.new_id("ledger_transaction")
    key = f"seed:{member.customer_id}:{txn}"
    batch.rows["ledger_transaction"].append(
        (txn, _public_id(member, "txn"), kind, member.customer_id, points, key, ACTOR,
         reference, ctx.stamp(at))
    )  # fmt: skip
    return txn


def _spend(batch: Batch, lots: list[list[Any]], points: int, txn: int) -> None:
    """Take ``points`` from the oldest lots with points left (as ledger._spend_lots_txn)."""
    left = points
    for lot in _open(lots):
        take = min(left, lot[4])
        lot[4] -= take
        batch.rows["lot_movement"].append((lot[0], txn, -take))
        left -= take
        if not left:
            return
    raise AssertionError("lots do not cover the balance")


def _open(lots: list[list[Any]]) -> Iterator[list[Any]]:
    return (lot for lot in lots if lot[4] > 0)


def _links(batch: Batch, ctx: SeedContext, member: SyntheticMember, enrolled: datetime) -> None:
    rng = member.rng
    for partner in ctx.partners:
        if rng.random() >= LINK_SHARE:
            continue
        ours = pairwise_pseudonym(
            ctx.secrets.pseudonym_key, customer=member.customer_id, partner=partner
        )
        theirs = base64.urlsafe_b64encode(rng.randbytes(32)).decode().rstrip("=")
        linked = _moments(member, enrolled, ctx.now, 1)[0]
        batch.rows["partner_link"].append(
            (member.customer_id, partner, ours, theirs, "active", ctx.stamp(linked), None)
        )
