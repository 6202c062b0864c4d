"""The points ledger: double-entry, append-only, integer, never negative.

Every change is one ``ledger_transaction`` whose ``ledger_entry`` rows sum to
zero. Accounts:

====================  ========================================================
``customer:<id>``     what the business owes one member, in points (never < 0)
``debt:<id>``         points a member owes back (never > 0): a refund took back
                      points that were already spent; later earnings repay it
``program:issued``    contra account: every point ever issued is debited here
``program:redeemed``  points members spent on rewards
``program:expired``   points that expired unused (breakage)
``credit:<id>``       store credit (cashback) held by a member, in money minor
                      units of the node's currency (never < 0); see
                      node.services.store_credit
====================  ========================================================

Each account has a unit ("points" or a currency code) and a transaction never
mixes units. So ``-balance(program:issued) = sum(customer balances) + sum(debt
balances) + redeemed + expired`` at every moment. Customer accounts keep a
running ``balance`` column, guarded by a conditional UPDATE (see
node.store.ledger.take_balance) and a CHECK constraint; debt accounts keep
one too. System accounts are summed from their entries instead, so that
the hot path never queues on one shared row.

Points sit in lots, one per credit. Debits spend lots first in, first out;
expiry empties whole lots past their ``expires_at``. Lots past expiry are
expired lazily inside any write for that customer and in bulk by the expiry
job, so a member can never spend a point that has already expired.

All ``*_txn`` functions run inside a write unit (``db.write(unit)``) and get
its session; they never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlmodel import Session

from node.db import Database
from node.errors import InsufficientPoints, KonsortError, NotFound
from node.ids import new_id
from node.store import ledger as store

ISSUED = "program:issued"
REDEEMED = "program:redeemed"
EXPIRED = "program:expired"
SYSTEM_ACCOUNTS = (ISSUED, REDEEMED, EXPIRED)
CUSTOMER_KIND = "customer"


@dataclass(frozen=True)
class Posting:
    account_id: int
    amount: int
    #: True for accounts with a running balance that must not go below zero.
    guarded: bool = False
    #: True for accounts with a running balance that may be negative (debt).
    running: bool = False


@dataclass(frozen=True)
class PostedTransaction:
    id: int
    public_id: str
    kind: str
    points: int
    created_at: datetime
    #: The new running balance of the (first) guarded account, when there is one.
    balance: int | None = None


@dataclass(frozen=True)
class Balance:
    points: int
    expiring_points: int
    next_expiry: datetime | None
    #: Points owed from refunds of points already spent.
    debt: int = 0


def customer_account_code(customer_id: str) -> str:
    return f"customer:{customer_id}"


def debt_account_code(customer_id: str) -> str:
    return f"debt:{customer_id}"


def system_account_txn(
    *, session: Session, code: str, now: datetime, unit: str = "points", kind: str = "system"
) -> int:
    """The id of an account by code, created on first use.

    System accounts are never deleted, so their ids are cached per connection,
    except for one this session created itself (it might yet roll back).
    """
    created: set[str] = session.info.setdefault("konsort_created_accounts", set())
    account_id = store.account_id_by_code(
        session=session,
        code=code,
        permanent=code in SYSTEM_ACCOUNTS or (kind == "system" and code not in created),
    )
    if account_id is None:
        # Two transactions may create the same account at once (PostgreSQL):
        # the second waits for the first and then reads its row.
        account_id = store.insert_system_account(
            session=session, code=code, kind=kind, now=now, unit=unit
        )
        created.add(code)
    return account_id


def open_customer_account_txn(*, session: Session, customer_id: str, now: datetime) -> int:
    return store.insert_account(
        session=session,
        code=customer_account_code(customer_id),
        kind=CUSTOMER_KIND,
        customer_id=customer_id,
        now=now,
    )


def customer_account_id_txn(*, session: Session, customer_id: str) -> int:
    found = store.customer_account(session=session, customer_id=customer_id)
    if found is None:
        raise NotFound("no such customer", field="customer_id")
    return found[0]


def active_customer_txn(
    *, session: Session, customer_id: str, now: datetime
) -> store.CustomerState:
    """An active customer's account state, with any lots past expiry expired first."""
    return checked_state_txn(
        session=session,
        customer_id=customer_id,
        state=store.customer_state(session=session, customer_id=customer_id, now=now),
        now=now,
    )


def checked_state_txn(
    *, session: Session, customer_id: str, state: store.CustomerState | None, now: datetime
) -> store.CustomerState:
    """:func:`active_customer_txn` with the state already read (at ``now``)."""
    if state is None or state.status != "active":
        raise NotFound("no such customer", field="customer_id")
    if state.has_due_lots:
        expired = expire_customer_lots_txn(
            session=session, account_id=state.account_id, customer_id=customer_id, now=now
        )
        state = replace(state, balance=state.balance - expired)
    return state


def _active_account_txn(*, session: Session, customer_id: str, now: datetime) -> int:
    return active_customer_txn(session=session, customer_id=customer_id, now=now).account_id


def post_transaction_txn(
    *,
    session: Session,
    kind: str,
    customer_id: str | None,
    points: int,
    postings: Sequence[Posting],
    idempotency_key: str | None,
    reference: str | None,
    now: datetime,
    actor: str | None = None,
) -> PostedTransaction:
    """Write one balanced transaction. Raises before writing if it does not balance."""
    if any(type(p.amount) is not int or p.amount == 0 for p in postings):
        raise KonsortError("ledger postings must be non-zero integers")
    if sum(p.amount for p in postings) != 0:
        raise KonsortError("ledger transaction does not balance")
    # Guarded debits first: the conditional UPDATE locks the row and is the
    # only thing that can refuse, so a refusal happens before any other write.
    balance: int | None = None
    for posting in sorted(postings, key=lambda p: (not p.guarded, p.amount)):
        if not posting.guarded:
            if posting.running:
                store.change_balance(
                    session=session, account_id=posting.account_id, delta=posting.amount
                )
            continue
        if posting.amount < 0:
            after = store.take_balance(
                session=session, account_id=posting.account_id, points=-posting.amount
            )
            if after is None:
                raise InsufficientPoints(
                    "the balance does not cover this many points", field="points"
                )
        else:
            after = store.change_balance(
                session=session, account_id=posting.account_id, delta=posting.amount
            )
        balance = after if balance is None else balance
    public_id = new_id("txn")
    txn_id = store.insert_transaction(
        session=session,
        public_id=public_id,
        kind=kind,
        customer_id=customer_id,
        points=points,
        idempotency_key=idempotency_key,
        reference=reference,
        actor=actor,
        now=now,
    )
    if postings:
        store.insert_entries(
            session=session,
            transaction_id=txn_id,
            postings=[(p.account_id, p.amount) for p in postings],
        )
    return PostedTransaction(txn_id, public_id, kind, points, now, balance)


def credit_points_txn(
    *,
    session: Session,
    customer_id: str,
    points: int,
    kind: str,
    source_account: str,
    idempotency_key: str | None,
    reference: str | None,
    now: datetime,
    expiry_days: int,
    actor: str | None = None,
    state: store.CustomerState | None = None,
) -> PostedTransaction:
    """Credit a member with a new lot of points taken from ``source_account``.

    A member who owes points (see :func:`reverse_points_txn`) repays that debt
    first: only what is left over reaches the balance and a lot. ``state`` is
    the account's state read at ``now`` in this transaction, when the caller
    read it already (node.store.standing); else it is read here.
    """
    if points < 0:
        raise KonsortError("credit_points_txn takes a non-negative amount")
    state = (
        active_customer_txn(session=session, customer_id=customer_id, now=now)
        if state is None
        else checked_state_txn(session=session, customer_id=customer_id, state=state, now=now)
    )
    account_id = state.account_id
    postings: list[Posting] = []
    repay = min(points, state.debt)
    if points:
        source_id = system_account_txn(session=session, code=source_account, now=now)
        postings = [Posting(source_id, -points)]
        if points - repay:
            postings.append(Posting(account_id, points - repay, guarded=True))
        if repay:
            debt_id = system_account_txn(
                session=session, code=debt_account_code(customer_id), now=now, kind="debt"
            )
            postings.append(Posting(debt_id, repay, running=True))
    posted = post_transaction_txn(
        session=session,
        kind=kind,
        customer_id=customer_id,
        points=points,
        postings=postings,
        idempotency_key=idempotency_key,
        reference=reference,
        now=now,
        actor=actor,
    )
    if posted.balance is None:  # nothing credited: report the balance as it stands
        found = store.customer_account(session=session, customer_id=customer_id)
        assert found is not None
        posted = replace(posted, balance=found[1])
    if points - repay:
        store.insert_lot(
            session=session,
            account_id=account_id,
            transaction_id=posted.id,
            points=points - repay,
            earned_at=now,
            expires_at=now + timedelta(days=expiry_days) if expiry_days else None,
        )
    return posted


def debit_points_txn(
    *,
    session: Session,
    customer_id: str,
    points: int,
    kind: str,
    target_account: str,
    idempotency_key: str | None,
    reference: str | None,
    now: datetime,
    actor: str | None = None,
) -> PostedTransaction:
    """Take ``points`` from a member (oldest lots first) into ``target_account``."""
    if points <= 0:
        raise KonsortError("debit_points_txn takes a positive amount")
    account_id = _active_account_txn(session=session, customer_id=customer_id, now=now)
    target_id = system_account_txn(session=session, code=target_account, now=now)
    posted = post_transaction_txn(
        session=session,
        kind=kind,
        customer_id=customer_id,
        points=-points,
        postings=[Posting(account_id, -points, guarded=True), Posting(target_id, points)],
        idempotency_key=idempotency_key,
        reference=reference,
        now=now,
        actor=actor,
    )
    _spend_lots_txn(session=session, account_id=account_id, points=points, transaction_id=posted.id)
    return posted


@dataclass(frozen=True)
class Reversal:
    posted: PostedTransaction
    #: Points taken from the balance (oldest lots first).
    taken: int
    #: Points the balance did not cover, added to the member's debt.
    owed: int


def reverse_points_txn(
    *,
    session: Session,
    customer_id: str,
    points: int,
    kind: str,
    target_account: str,
    idempotency_key: str | None,
    reference: str | None,
    now: datetime,
    actor: str | None = None,
) -> Reversal:
    """Take back ``points`` issued earlier (a refund), never below zero.

    What the balance covers is taken from the oldest lots; the rest becomes
    debt that later credits repay first. ``target_account`` receives all of
    ``points`` (for a refund, ``program:issued``: the points are un-issued).
    """
    if points <= 0:
        raise KonsortError("reverse_points_txn takes a positive amount")
    state = active_customer_txn(session=session, customer_id=customer_id, now=now)
    store.lock_account(session=session, account_id=state.account_id)
    found = store.customer_account(session=session, customer_id=customer_id)
    assert found is not None
    taken = min(points, found[1])
    owed = points - taken
    target_id = system_account_txn(session=session, code=target_account, now=now)
    postings = [Posting(target_id, points)]
    if taken:
        postings.append(Posting(state.account_id, -taken, guarded=True))
    if owed:
        debt_id = system_account_txn(
            session=session, code=debt_account_code(customer_id), now=now, kind="debt"
        )
        postings.append(Posting(debt_id, -owed, running=True))
    posted = post_transaction_txn(
        session=session,
        kind=kind,
        customer_id=customer_id,
        points=-points,
        postings=postings,
        idempotency_key=idempotency_key,
        reference=reference,
        now=now,
        actor=actor,
    )
    if taken:
        _spend_lots_txn(
            session=session, account_id=state.account_id, points=taken, transaction_id=posted.id
        )
    return Reversal(replace(posted, balance=found[1] - taken), taken, owed)


def _spend_lots_txn(*, session: Session, account_id: int, points: int, transaction_id: int) -> None:
    """Take ``points`` from the oldest lots, a few lots at a time."""
    left = points
    while left:
        lots = store.oldest_lots(session=session, account_id=account_id, limit=16)
        if not lots:
            raise KonsortError("lots do not cover the account balance")
        for lot_id, remaining in lots:
            take = min(left, remaining)
            _take_from_lot_txn(
                session=session,
                lot=store.OpenLot(lot_id, remaining, None),
                points=take,
                transaction_id=transaction_id,
            )
            left -= take
            if left == 0:
                return


def _take_from_lot_txn(
    *, session: Session, lot: store.OpenLot, points: int, transaction_id: int
) -> None:
    if not store.take_from_lot(
        session=session,
        lot_id=lot.id,
        expected_remaining=lot.remaining,
        points=points,
        transaction_id=transaction_id,
    ):
        raise KonsortError("a point lot changed under a locked account")


def expire_customer_lots_txn(
    *, session: Session, account_id: int, customer_id: str | None, now: datetime
) -> int:
    """Expire every lot of one account that is past its expiry; returns the points.

    Takes the account's row lock before reading the lots again, so a racing
    redemption or a second expiry run can never spend or expire a lot twice.
    Running it again finds nothing to do.
    """
    if not store.due_lots_for_account(session=session, account_id=account_id, now=now):
        return 0
    store.lock_account(session=session, account_id=account_id)
    due = store.due_lots_for_account(session=session, account_id=account_id, now=now)
    total = sum(lot.remaining for lot in due)
    if total == 0:
        return 0
    expired_id = system_account_txn(session=session, code=EXPIRED, now=now)
    posted = post_transaction_txn(
        session=session,
        kind="expire",
        customer_id=customer_id,
        points=-total,
        postings=[Posting(account_id, -total, guarded=True), Posting(expired_id, total)],
        idempotency_key=None,
        reference=None,
        now=now,
        actor="system",
    )
    for lot in due:
        _take_from_lot_txn(session=session, lot=lot, points=lot.remaining, transaction_id=posted.id)
    return total


@dataclass(frozen=True)
class ExpiryReport:
    customers: int
    points: int


def expire_due_points(db: Database, *, now: datetime, batch_size: int = 200) -> ExpiryReport:
    """Expire all lots past their expiry, a batch of accounts per transaction."""
    customers = points = 0
    while True:
        with db.read() as session:
            batch = store.accounts_with_due_lots(session=session, now=now, limit=batch_size)
        if not batch:
            return ExpiryReport(customers, points)

        def unit(session: Session, batch: list[tuple[int, str | None]] = batch) -> list[int]:
            return [
                expire_customer_lots_txn(
                    session=session, account_id=account_id, customer_id=customer_id, now=now
                )
                for account_id, customer_id in batch
            ]

        expired = db.write(unit)
        customers += sum(1 for amount in expired if amount)
        points += sum(expired)


def customer_balance(db: Database, *, customer_id: str, now: datetime) -> Balance:
    """Spendable points now: lots past expiry count as gone even before the job runs."""
    with db.read() as session:
        found = store.customer_account(session=session, customer_id=customer_id)
        if found is None:
            raise NotFound("no such customer", field="customer_id")
        account_id, stored = found
        expired, expiring, next_expiry = store.balance_summary(
            session=session, account_id=account_id, now=now
        )
        owed = store.account_balance(session=session, code=debt_account_code(customer_id))
    return Balance(stored - expired, expiring, next_expiry, -owed[1] if owed else 0)
