"""Escrow towards a partner: where a member's points wait for the partner's answer.

A federated request that spends a member's points (a transfer, a partner
reward, a donation) debits them into ``escrow:<partner>`` in the transaction
that queues the request. The answer decides, once:

- accepted: :func:`release_escrow_txn` moves the points from escrow to
  ``federation:out`` (they left this node's program; the clearing entry says
  what this node owes for them);
- rejected: :func:`refund_escrow_txn` gives them back to the member as a new
  lot that expires per the program in force.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from node.services import ledger
from node.services.federation import Federation
from node.services.program import program_at_txn
from node.store import federation as store

#: Points that left this node's program for partners, and that came in from them.
FEDERATION_OUT = "federation:out"
FEDERATION_IN = "federation:in"


def escrow_account(peer: str) -> str:
    """The system account where points wait for ``peer``'s answer."""
    return f"escrow:{peer}"


def program_expiry_days(session: Session, fed: Federation, now: datetime) -> int:
    """Days until points credited now expire, under the program in force."""
    settings = fed.settings
    assert settings is not None
    return program_at_txn(session=session, settings=settings, moment=now).program.expiry.days


def release_escrow_txn(
    *, session: Session, peer: str, points: int, kind: str, reference: str, now: datetime
) -> None:
    """The partner accepted: the escrowed points leave through ``federation:out``."""
    escrow = ledger.system_account_txn(session=session, code=escrow_account(peer), now=now)
    out = ledger.system_account_txn(session=session, code=FEDERATION_OUT, now=now)
    ledger.post_transaction_txn(
        session=session,
        kind=kind,
        customer_id=None,
        points=0,
        postings=[ledger.Posting(escrow, -points), ledger.Posting(out, points)],
        idempotency_key=None,
        reference=reference,
        now=now,
        actor="system",
    )


def refund_escrow_txn(
    *,
    session: Session,
    fed: Federation,
    customer_id: str,
    peer: str,
    points: int,
    kind: str,
    reference: str,
    now: datetime,
) -> None:
    """The partner refused: the escrowed points go back to the member as a new lot."""
    ledger.credit_points_txn(
        session=session,
        customer_id=customer_id,
        points=points,
        kind=kind,
        source_account=escrow_account(peer),
        idempotency_key=None,
        reference=reference,
        now=now,
        expiry_days=program_expiry_days(session, fed, now),
        actor="system",
    )


def conclude_outgoing_txn(
    *,
    session: Session,
    fed: Federation,
    op: store.OperationRow,
    accepted: bool,
    points: int,
    value_minor: int,
    kind: str,
    reference: str,
    now: datetime,
) -> None:
    """An outgoing ``kind`` (transfer, redemption, donation) got its one final answer:
    release the escrow and write the clearing entry the partner is owed, or refund
    the member. Ledger kinds are ``<kind>-settle`` and ``<kind>-refund``."""
    if not accepted:
        assert op.customer_id is not None
        refund_escrow_txn(
            session=session,
            fed=fed,
            customer_id=op.customer_id,
            peer=op.peer,
            points=points,
            kind=f"{kind}-refund",
            reference=reference,
            now=now,
        )
        return
    release_escrow_txn(
        session=session,
        peer=op.peer,
        points=points,
        kind=f"{kind}-settle",
        reference=reference,
        now=now,
    )
    store.insert_clearing(
        session=session,
        peer=op.peer,
        ref=reference,
        kind=kind,
        creditor=op.peer,
        value_minor=value_minor,
        request_iat=op.request_iat,
        now=now,
    )
