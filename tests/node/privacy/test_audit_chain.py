"""The audit chain: appends link up, tampering is found at its seq, pruning keeps it whole."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from node.clock import ManualClock
from node.db import Database
from node.secrets import NodeSecrets
from node.services import audit
from tests.factories import make_customer


def record(db: Database, clock: ManualClock, n: int, **overrides: object) -> list[int]:
    seqs = []
    for i in range(n):
        fields: dict[str, object] = {
            "actor": "key_test",
            "action": "profile.view",
            "customer_id": f"cus_{i}",
            "purpose": "customer_service",
            "now": clock.now(),
            "detail": {"fields": ["name", "email"]},
            **overrides,
        }
        with db.transaction() as session:
            seqs.append(audit.record_txn(session=session, **fields))  # type: ignore[arg-type]
        clock.advance(timedelta(minutes=1))
    return seqs


def drop_trigger(db: Database, name: str) -> None:
    suffix = "" if db.is_sqlite else " ON audit_entry"
    with db.transaction() as session:
        session.execute(text(f"DROP TRIGGER {name}{suffix}"))


def test_appends_are_numbered_without_gaps_and_the_chain_verifies(
    db: Database, clock: ManualClock
) -> None:
    assert audit.verify_chain(db).ok  # an empty log is a sound one
    assert record(db, clock, 5) == [1, 2, 3, 4, 5]
    seen: list[int] = []
    report = audit.verify_chain(db, progress=seen.append, page_size=2)
    assert report.ok and report.checked == 5 and report.head_seq == 5
    assert sum(seen) == 5 and len(seen) == 3  # streamed in pages of two
    with db.transaction() as session:
        first = session.execute(text("SELECT prev_hash, hash FROM audit_entry WHERE seq = 1"))
        prev_hash, first_hash = first.one()
        second = session.execute(text("SELECT prev_hash FROM audit_entry WHERE seq = 2")).one()
    assert prev_hash == audit.GENESIS_HASH and second[0] == first_hash


def test_a_rolled_back_transaction_leaves_no_entry_and_no_gap(
    db: Database, clock: ManualClock
) -> None:
    record(db, clock, 1)
    with pytest.raises(RuntimeError):
        with db.transaction() as session:
            audit.record_txn(
                session=session,
                actor="key_test",
                action="profile.view",
                customer_id="cus_x",
                purpose="customer_service",
                now=clock.now(),
            )
            raise RuntimeError("the access failed")
    assert record(db, clock, 1) == [2]
    assert audit.verify_chain(db).ok


def test_triggers_refuse_update_and_delete(db: Database, clock: ManualClock) -> None:
    record(db, clock, 2)
    for statement in (
        "UPDATE audit_entry SET purpose = 'other' WHERE seq = 1",
        "DELETE FROM audit_entry WHERE seq = 2",
        "DELETE FROM audit_entry",
    ):
        with pytest.raises(DBAPIError, match="audit"):
            with db.transaction() as session:
                session.execute(text(statement))
    assert audit.verify_chain(db).checked == 2


@pytest.mark.parametrize(
    ("column", "value"),
    [("purpose", "'fraud_check'"), ("actor", "'key_other'"), ("customer_id", "'cus_9'")],
)
def test_an_edited_entry_is_found_at_its_seq(
    db: Database, clock: ManualClock, column: str, value: str
) -> None:
    record(db, clock, 6)
    drop_trigger(db, "audit_entry_no_update")
    with db.transaction() as session:
        session.execute(text(f"UPDATE audit_entry SET {column} = {value} WHERE seq = 4"))
    report = audit.verify_chain(db)
    assert not report.ok
    assert report.first_bad_seq == 4 and report.checked == 3
    assert report.reason is not None and "hash" in report.reason


def test_a_rehashed_entry_breaks_the_next_link(db: Database, clock: ManualClock) -> None:
    record(db, clock, 4)
    drop_trigger(db, "audit_entry_no_update")
    with db.transaction() as session:
        session.execute(text("UPDATE audit_entry SET hash = :h WHERE seq = 2"), {"h": "f" * 64})
    report = audit.verify_chain(db)
    assert (report.ok, report.first_bad_seq) == (False, 2)
    # The forger recomputes entry 2's hash after editing it: entry 3 no longer links.
    with db.transaction() as session:
        session.execute(text("UPDATE audit_entry SET hash = prev_hash WHERE seq = 2"))
    assert audit.verify_chain(db).first_bad_seq == 2


def test_a_deleted_entry_is_found_as_a_gap(db: Database, clock: ManualClock) -> None:
    record(db, clock, 5)
    drop_trigger(db, "audit_entry_no_delete")
    with db.transaction() as session:
        session.execute(text("DELETE FROM audit_entry WHERE seq = 3"))
    report = audit.verify_chain(db)
    assert (report.ok, report.first_bad_seq, report.checked) == (False, 3, 2)
    assert report.reason == "entry 3 is missing"


def test_detail_refuses_anything_that_could_be_personal_data(
    db: Database, clock: ManualClock
) -> None:
    for detail in (
        {"email": "ada@example.com"},
        {"name": "Ada Lovelace"},
        {"fields": ["name", "Ada Lovelace"]},
        {"Bad Key": 1},
    ):
        with pytest.raises(ValueError):
            with db.transaction() as session:
                audit.record_txn(
                    session=session,
                    actor="key_test",
                    action="profile.change",
                    customer_id="cus_1",
                    purpose="rectification",
                    now=clock.now(),
                    detail=detail,  # type: ignore[arg-type]
                )
    with pytest.raises(ValueError, match="unknown audit action"):
        record(db, clock, 1, action="profile.peek")
    with pytest.raises(ValueError, match="opaque customer id"):
        record(db, clock, 1, customer_id="ada@example.com")
    assert audit.chain_length(db) == 0


def test_registered_actions_may_be_recorded(db: Database, clock: ManualClock) -> None:
    audit.register_action("loyalty.review", "a test action")
    assert record(db, clock, 1, action="loyalty.review") == [1]
    with pytest.raises(ValueError):
        audit.register_action("Not An Action", "x")


def test_staff_lookups_give_dates_actions_and_purposes_not_the_employee(
    db: Database, clock: ManualClock, node_secrets: NodeSecrets
) -> None:
    customer = make_customer(db, node_secrets, clock, email="ada@example.com")
    record(db, clock, 1, customer_id=customer, purpose="fraud_check")
    record(db, clock, 1, customer_id=customer, actor="customer", action="export.download")
    record(db, clock, 1, customer_id=customer, actor="system", action="erasure.execute")
    record(db, clock, 1, customer_id="cus_other")
    with db.transaction() as session:
        found = audit.staff_lookups_txn(session=session, customer_id=customer)
    assert found == [
        {
            "at": "2026-01-01T00:00:00Z",
            "action": "profile.view",
            "purpose": "fraud_check",
            "by": "staff",
        },
        {
            "at": "2026-01-01T00:02:00Z",
            "action": "erasure.execute",
            "purpose": "customer_service",
            "by": "system",
        },
    ]


def test_pruning_a_prefix_keeps_the_chain_verifiable(db: Database, clock: ManualClock) -> None:
    record(db, clock, 6)  # at 00:00 ... 00:05
    cutoff = clock.now() - timedelta(minutes=3, seconds=30)  # entries 1-3 are older
    with db.transaction() as session:
        due = audit.retention_due_txn(session=session, cutoff=cutoff, limit=100)
        assert due == ["1", "2", "3"]
        assert audit.retention_due_txn(session=session, cutoff=cutoff, limit=2) == ["1", "2"]
        assert audit.retention_apply_txn(session=session, ids=due, now=clock.now()) == 3
    with db.transaction() as session:
        kept = session.execute(text("SELECT seq FROM audit_entry ORDER BY seq")).scalars().all()
    assert kept == [4, 5, 6, 7]  # 7 records the pruning itself
    report = audit.verify_chain(db)
    assert report.ok and report.starts_after == 3 and report.checked == 4
    page, _ = audit.list_entries(db, customer_id=None, after_seq=6, limit=10)
    assert page[0]["action"] == "audit.prune"
    assert page[0]["detail"] == {"entries": 3, "through_seq": 3}
    # Appends go on from the head; a second pruning takes everything.
    record(db, clock, 1)
    with db.transaction() as session:
        everything = audit.retention_due_txn(
            session=session, cutoff=clock.now() + timedelta(days=1), limit=100
        )
        assert audit.retention_apply_txn(session=session, ids=everything, now=clock.now()) == 5
    report = audit.verify_chain(db)
    assert report.ok and report.starts_after == 8 and report.head_seq == 9
    assert record(db, clock, 1) == [10] and audit.verify_chain(db).ok


def test_pruning_only_takes_a_prefix(db: Database, clock: ManualClock) -> None:
    record(db, clock, 5)
    with db.transaction() as session:
        assert audit.retention_apply_txn(session=session, ids=["2", "3"], now=clock.now()) == 0
        assert audit.retention_apply_txn(session=session, ids=["1", "2", "4"], now=clock.now()) == 2
    with db.transaction() as session:
        kept = session.execute(text("SELECT seq FROM audit_entry ORDER BY seq")).scalars().all()
    assert kept == [3, 4, 5, 6]
    assert audit.verify_chain(db).ok


def test_an_anchor_without_its_prune_entry_is_reported(db: Database, clock: ManualClock) -> None:
    """Someone deletes the oldest entries behind a forged anchor: verify says so."""
    record(db, clock, 4)
    with db.transaction() as session:
        head = session.execute(text("SELECT hash FROM audit_entry WHERE seq = 2")).scalar_one()
        session.execute(
            text(
                "INSERT INTO audit_anchor (through_seq, hash, entries, pruned_at)"
                " VALUES (2, :h, 2, :at)"
            ),
            {"h": head, "at": clock.now()},
        )
        session.execute(text("DELETE FROM audit_entry WHERE seq <= 2"))
    report = audit.verify_chain(db)
    assert (report.ok, report.first_bad_seq) == (False, 3)
    assert report.reason is not None and "audit.prune" in report.reason


def test_appends_from_many_threads_never_fork_the_chain(
    db: Database, clock: ManualClock, backend: str
) -> None:
    threads, per_thread = 6, 15
    errors: list[BaseException] = []

    def append() -> None:
        try:
            for _ in range(per_thread):
                db.write(
                    lambda session: audit.record_txn(
                        session=session,
                        actor="key_test",
                        action="customer.lookup",
                        customer_id="cus_1",
                        purpose="customer_service",
                        now=clock.now(),
                    )
                )
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    workers = [threading.Thread(target=append) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    report = audit.verify_chain(db)
    assert report.ok and report.checked == threads * per_thread
    with db.transaction() as session:
        forks = session.execute(
            text("SELECT COUNT(*) - COUNT(DISTINCT prev_hash) FROM audit_entry")
        ).scalar_one()
    assert forks == 0
