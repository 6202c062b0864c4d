"""Vouchers: the single-use codes a redeemed reward becomes, and what a till
and a member do with them: check, use once, cancel, list.

Issuing lives in node.services.rewards (it is where the catalogue's rules
are). A voucher's life::

    issued --use--> used
      |  \\
      |   `--(expires_at passes)--> expired --cancel--> cancelled
      `--cancel--> cancelled

"expired" is not stored: it is an issued voucher past its ``expires_at``, so
it needs no job. Cancelling an unused voucher, expired or not, gives back
what it took: the points return from ``program:redeemed`` as a new lot
(``kind`` "reward-return") that expires per the program in force, because
the member never received the reward they paid for; and the stock unit
returns. A used voucher cannot be cancelled, nor (``partner_voucher``, 409)
one this node issued for a partner redemption: its member paid with another
node's points, so points given back here would be points this node never
took (the member's node keeps the payment; see docs/federation.md).

Of two tills racing to use (or cancel) one code, exactly one wins: the
change is a conditional UPDATE on the voucher's status (node.store.rewards).

The code is a bearer secret: whoever holds it can have the reward. It is
never logged and never part of an error message. It is 12 random Crockford
base32 characters (60 bits, from ``secrets``) in groups of four, easy to
type at a till.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from node.clock import isoformat
from node.db import Database
from node.errors import Conflict, KonsortError, NotFound, RequestError
from node.program.config import Program
from node.services import ledger
from node.services.customers import require_active_txn
from node.services.idempotency import Answer, Unit, idempotent_unit, run_idempotent
from node.services.program import program_at_txn
from node.settings import Settings
from node.store import rewards as store
from node.store.voucher_origin import voucher_issue_kind

#: Crockford's base32: no I, L, O or U, so a code read aloud or typed is unambiguous.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 12
GROUP = 4
_READ_AS = str.maketrans({"I": "1", "L": "1", "O": "0"})

ISSUED, USED, CANCELLED, EXPIRED = store.ISSUED, store.USED, store.CANCELLED, "expired"
RETURN_KIND = "reward-return"
#: The ledger kind that issues a partner's voucher (node.services.partner_rewards).
PARTNER_REWARD_KIND = "partner-reward"


def new_voucher_code() -> str:
    """12 random Crockford base32 characters (60 bits) in groups: ``7KQM-2XHD-9RTA``."""
    chars = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(chars[i : i + GROUP] for i in range(0, CODE_LENGTH, GROUP))


def canonical_voucher_code(typed: str) -> str | None:
    """The stored form of a code as typed at a till, or None if it cannot be one.

    Case, spaces and dashes do not matter; O reads as 0 and I or L as 1.
    """
    chars = typed.upper().replace("-", "").replace(" ", "").translate(_READ_AS)
    if len(chars) != CODE_LENGTH or any(c not in ALPHABET for c in chars):
        return None
    return "-".join(chars[i : i + GROUP] for i in range(0, CODE_LENGTH, GROUP))


def voucher_status(row: store.VoucherRow, now: datetime) -> str:
    """``issued``, ``used``, ``cancelled`` or ``expired`` (issued, past ``expires_at``)."""
    if row.status == ISSUED and row.expires_at is not None and row.expires_at <= now:
        return EXPIRED
    return row.status


def voucher_json(row: store.VoucherRow, program: Program, now: datetime) -> dict[str, Any]:
    """A voucher as the API shows it (the code included: show it only to its holder)."""
    reward = program.reward(row.reward_code)

    def time(moment: datetime | None) -> str | None:
        return None if moment is None else isoformat(moment)

    return {
        "code": row.code,
        "status": voucher_status(row, now),
        "reward": row.reward_code,
        "reward_name": reward.name if reward is not None else None,
        "customer_id": row.customer_id,
        "points": row.points,
        "issued_at": isoformat(row.issued_at),
        "expires_at": time(row.expires_at),
        "used_at": time(row.used_at),
        "used_reference": row.used_reference,
        "cancelled_at": time(row.cancelled_at),
    }


def transaction_json(posted: ledger.PostedTransaction, reference: str) -> dict[str, Any]:
    return {
        "id": posted.public_id,
        "kind": posted.kind,
        "points": posted.points,
        "reference": reference,
        "created_at": isoformat(posted.created_at),
    }


# -- the till: check, use ------------------------------------------------------


def _find_txn(*, session: Session, code: str, owner: str | None = None) -> store.VoucherRow:
    canonical = canonical_voucher_code(code)
    found = store.voucher_by_code(session=session, code=canonical) if canonical else None
    if found is None or (owner is not None and found.customer_id != owner):
        raise NotFound("no such voucher", field="code")
    return found


def _refusal(row: store.VoucherRow, now: datetime) -> Conflict:
    status = voucher_status(row, now)
    if status == USED:
        return Conflict("this voucher has been used", field="code", code="voucher_used")
    if status == CANCELLED:
        return Conflict("this voucher was cancelled", field="code", code="voucher_cancelled")
    if status == EXPIRED:
        return Conflict("this voucher has expired", field="code", code="voucher_expired")
    raise KonsortError(f"a voucher in status {status} was refused")


def check_voucher(db: Database, settings: Settings, *, code: str, now: datetime) -> dict[str, Any]:
    """A voucher by its code, as the till sees it (status derived at ``now``)."""
    with db.read() as session:
        found = _find_txn(session=session, code=code)
        program = program_at_txn(session=session, settings=settings, moment=now).program
    return voucher_json(found, program, now)


def use_voucher_txn(
    *, session: Session, code: str, reference: str | None, now: datetime
) -> store.VoucherRow:
    """Mark an issued, unexpired voucher used; ``voucher_used``, ``voucher_cancelled``
    or ``voucher_expired`` (409) otherwise."""
    found = _find_txn(session=session, code=code)
    used = store.mark_used(session=session, voucher_id=found.id, reference=reference, now=now)
    if used is None:
        # Read again: a racing till may have changed it since the first read.
        raise _refusal(_find_txn(session=session, code=code), now)
    return used


def use_voucher(db: Database, settings: Settings, **request: Any) -> Answer:
    return run_idempotent(db, use_voucher_unit(settings, **request))


def use_voucher_unit(
    settings: Settings,
    *,
    code: str,
    reference: str | None,
    idempotency_key: str,
    now: datetime,
) -> Unit:
    """Answer 200 with the used voucher; a retry with the same key replays it."""
    canonical = canonical_voucher_code(code) or code

    def work(session: Session) -> Answer:
        used = use_voucher_txn(session=session, code=canonical, reference=reference, now=now)
        program = program_at_txn(session=session, settings=settings, moment=now).program
        return Answer(200, voucher_json(used, program, now))

    return idempotent_unit(
        key=idempotency_key,
        operation="voucher-use",
        request={"code": canonical, "reference": reference},
        now=now,
        work=work,
    )


# -- cancelling ----------------------------------------------------------------


@dataclass(frozen=True)
class CancelledVoucher:
    voucher: store.VoucherRow
    transaction: ledger.PostedTransaction
    balance: int


def cancel_voucher_txn(
    *,
    session: Session,
    settings: Settings,
    code: str,
    owner: str | None,
    ledger_key: str | None,
    now: datetime,
    actor: str | None = None,
) -> CancelledVoucher:
    """Cancel an unused voucher (expired or not): the points come back as a new lot
    expiring per the program in force, and the stock unit returns.

    ``owner`` limits it to one member's vouchers (another member's code is
    NotFound, as if it did not exist). A used or cancelled voucher is refused
    with ``voucher_used`` or ``voucher_cancelled`` (409), a partner's voucher
    with ``partner_voucher`` (409).
    """
    found = _find_txn(session=session, code=code, owner=owner)
    if voucher_issue_kind(session=session, voucher_id=found.id) == PARTNER_REWARD_KIND:
        raise Conflict(
            "this voucher was paid for with a partner's points; it cannot be cancelled here",
            field="code",
            code="partner_voucher",
        )
    cancelled = store.mark_cancelled(session=session, voucher_id=found.id, now=now)
    if cancelled is None:
        raise _refusal(_find_txn(session=session, code=code), now)
    program = program_at_txn(session=session, settings=settings, moment=now).program
    posted = ledger.credit_points_txn(
        session=session,
        customer_id=cancelled.customer_id,
        points=cancelled.points,
        kind=RETURN_KIND,
        source_account=ledger.REDEEMED,
        idempotency_key=ledger_key,
        reference=cancelled.reward_code,
        now=now,
        expiry_days=program.expiry.days,
        actor=actor,
    )
    store.set_refund_transaction(session=session, voucher_id=cancelled.id, transaction_id=posted.id)
    store.return_stock_unit(session=session, reward_code=cancelled.reward_code)
    assert posted.balance is not None
    return CancelledVoucher(cancelled, posted, posted.balance)


def cancel_voucher(db: Database, settings: Settings, **request: Any) -> Answer:
    return run_idempotent(db, cancel_voucher_unit(settings, **request))


def cancel_voucher_unit(
    settings: Settings,
    *,
    code: str,
    owner: str | None,
    idempotency_key: str,
    now: datetime,
    actor: str | None = None,
) -> Unit:
    """Answer 200 with the cancelled voucher, the return transaction and the balance."""
    canonical = canonical_voucher_code(code) or code

    def work(session: Session) -> Answer:
        done = cancel_voucher_txn(
            session=session,
            settings=settings,
            code=canonical,
            owner=owner,
            ledger_key=f"api:{idempotency_key}",
            now=now,
            actor=actor,
        )
        program = program_at_txn(session=session, settings=settings, moment=now).program
        body = {
            "customer_id": done.voucher.customer_id,
            "voucher": voucher_json(done.voucher, program, now),
            "transaction": transaction_json(done.transaction, done.voucher.reward_code),
            "balance": done.balance,
        }
        return Answer(200, body)

    return idempotent_unit(
        key=idempotency_key,
        operation="voucher-cancel",
        request={"code": canonical, "owner": owner},
        now=now,
        work=work,
    )


# -- lists ---------------------------------------------------------------------


@dataclass(frozen=True)
class VoucherPage:
    items: list[dict[str, Any]]
    next_cursor: str | None


def _encode_cursor(row_id: int) -> str:
    return base64.urlsafe_b64encode(f"voucher:{row_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = text.partition(":")
        if kind != "voucher":
            raise ValueError
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise RequestError("the cursor is not one this API returned", field="cursor") from None


def customer_vouchers(
    db: Database,
    settings: Settings,
    *,
    customer_id: str,
    limit: int,
    cursor: str | None,
    now: datetime,
) -> VoucherPage:
    """A page of a member's vouchers, newest first."""
    before = _decode_cursor(cursor) if cursor else None
    with db.read() as session:
        require_active_txn(session=session, customer_id=customer_id)
        program = program_at_txn(session=session, settings=settings, moment=now).program
        rows = store.customer_vouchers(
            session=session, customer_id=customer_id, before_id=before, limit=limit + 1
        )
    more = len(rows) > limit
    rows = rows[:limit]
    items = [voucher_json(row, program, now) for row in rows]
    return VoucherPage(items, _encode_cursor(rows[-1].id) if more and rows else None)
