"""`konsort dev seed`: a seeded node is a node like any other.

Seeding 200 members and then reading them through the real services (ledger
verification, audit chain, profile and email look-up, consent guard, KPIs,
access export, and a live earn and redemption over the operator API) proves
the rows are what those services would have written themselves.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session

from node.cli import main
from node.clock import ManualClock
from node.db import Database
from node.errors import Conflict
from node.secrets import NodeSecrets
from node.seed import SeedReport, seed_node, synthetic_email
from node.seed_people import synthetic_member
from node.services import audit, consent, customers, kpis, ledger
from node.services.access_export import collect_sections_txn
from node.services.personal_data import PersonalData
from node.services.points import customer_history
from node.services.verification import verify_ledger
from node.settings import Settings
from protocol import pairwise_pseudonym
from tests.node.conftest import Operator

MEMBERS = 200
SEED = 7


@pytest.fixture
def seeded(
    db: Database, settings: Settings, node_secrets: NodeSecrets, clock: ManualClock
) -> SeedReport:
    return seed_node(
        db,
        settings,
        node_secrets,
        customers=MEMBERS,
        now=clock.now(),
        seed=SEED,
        partners=("bookshop", "charity"),
        batch_members=64,  # several batches, so ids carry on across transactions
    )


def test_seeded_ledger_verifies_and_balances(db: Database, seeded: SeedReport) -> None:
    report = verify_ledger(db)
    assert report.ok, report.violations
    totals = report.totals
    assert totals["customer"] > 0 and totals["program:redeemed"] > 0
    assert -totals["program:issued"] == totals["customer"] + totals["program:redeemed"]
    assert seeded.customers == MEMBERS
    # About ten entries per member: the shape of the 1M / 10M node.
    assert 6 * MEMBERS < seeded.ledger_entries < 14 * MEMBERS
    assert seeded.rows["lot_movement"] > 0 and seeded.rows["partner_link"] > 0
    assert audit.verify_chain(db).ok  # seeding is no staff access: the chain stays whole


def test_a_seeded_member_is_found_by_email_and_reads_back(
    db: Database, seeded: SeedReport, node_secrets: NodeSecrets, clock: ManualClock
) -> None:
    expected = synthetic_member(SEED, 17)
    found = customers.find_by_email(
        db, secrets=node_secrets, email=synthetic_email(SEED, 17).upper()
    )
    assert found == expected.customer_id
    profile = customers.read_profile(db, secrets=node_secrets, customer_id=found)
    assert profile == PersonalData.model_validate(expected.personal.model_dump())
    assert profile.email == synthetic_email(SEED, 17)
    balance = ledger.customer_balance(db, customer_id=found, now=clock.now())
    history = customer_history(db, customer_id=found, limit=50, cursor=None)
    assert sum(item["points"] for item in history.items) == balance.points
    with db.read() as session:
        sections = collect_sections_txn(session=session, secrets=node_secrets, customer_id=found)
    assert sections["profile"] and synthetic_email(SEED, 17) in json.dumps(sections["profile"])
    assert len(sections["purchases"]) == sum(1 for item in history.items if item["kind"] == "earn")


def test_consents_and_links_follow_the_guard(
    db: Database, seeded: SeedReport, node_secrets: NodeSecrets
) -> None:
    granted = linked = 0
    with db.read() as session:
        for number in range(MEMBERS):
            member = synthetic_member(SEED, number).customer_id
            overview = consent.consent_overview_txn(session=session, customer_id=member)
            states = {item["purpose"]: item for item in overview["purposes"]}
            assert states["membership"]["state"] == "contract"
            allowed = consent.has_consent_txn(
                session=session, customer_id=member, purpose=consent.PARTNER_TRANSFERS
            )
            assert allowed == (states["partner_transfers"]["state"] == "granted")
            granted += allowed
            for item in overview["purposes"]:
                if item["state"] in ("granted", "withdrawn"):
                    assert item["wording_version"] == item["current_version"]
            links = [
                row
                for row in collect_sections_txn(
                    session=session, secrets=node_secrets, customer_id=member
                )["links"]
            ]
            for link in links:
                assert allowed, "a link without consent to partner transfers"
                assert link["our_subject"] == pairwise_pseudonym(
                    node_secrets.pseudonym_key, customer=member, partner=link["partner"]
                )
            linked += bool(links)
    assert 0 < linked < granted < MEMBERS


def test_kpis_count_the_seeded_history(
    db: Database, seeded: SeedReport, clock: ManualClock
) -> None:
    today = clock.now().date()
    report = kpis.kpi_report(
        db, start=today - timedelta(days=400), end=today + timedelta(days=1), period="month"
    )
    assert report.totals.enrolments == MEMBERS
    assert 0 < report.totals.active_members <= MEMBERS
    assert report.totals.redemption_rate.value is not None
    assert 0 < report.totals.redemption_rate.value < 10_000


def test_the_till_earns_and_redeems_on_a_seeded_member(
    db: Database, seeded: SeedReport, operator: Operator
) -> None:
    member = synthetic_member(SEED, 3).customer_id
    before = operator.get(f"/api/v1/customers/{member}/balance").json()["points"]
    assert operator.earn(member, 12_300).status_code == 201
    response = operator.post(f"/api/v1/customers/{member}/redemptions", {"points": before + 123})
    assert response.status_code == 201, response.text
    assert response.json()["balance"] == 0
    assert verify_ledger(db).ok


def test_seed_refuses_a_node_that_has_members(
    db: Database, seeded: SeedReport, settings: Settings, node_secrets: NodeSecrets
) -> None:
    with pytest.raises(Conflict) as refused:
        seed_node(db, settings, node_secrets, customers=5, now=ManualClock().now())
    assert refused.value.code == "node_not_empty"


def test_synthetic_members_are_deterministic_and_distinct() -> None:
    first, again = synthetic_member(3, 41), synthetic_member(3, 41)
    assert first.customer_id == again.customer_id and first.personal == again.personal
    other = synthetic_member(4, 41)
    assert other.customer_id != first.customer_id
    emails = {synthetic_email(3, number) for number in range(500)}
    assert len(emails) == 500
    assert all(email.isascii() and "@example." in email for email in emails)


def konsort(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_seeds_only_a_dev_node(
    tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    node = str(tmp_path / "node")
    code, out, _ = konsort(
        capsys, "--data-dir", node, "init", "--node-id", "cafe", "--database-url", database_url
    )
    assert code == 0, out
    code, _, err = konsort(capsys, "--data-dir", node, "dev", "seed", "--customers", "30")
    assert code == 2
    assert "not marked as a dev node" in err and "--yes-this-is-not-production" in err
    assert konsort(capsys, "--data-dir", node, "ledger", "verify", "--json")[0] == 0
    code, out, err = konsort(
        capsys, "--data-dir", node, "dev", "seed", "--customers", "30",
        "--yes-this-is-not-production",
    )  # fmt: skip
    assert code == 0, err
    assert "seeded 30 customers" in out
    code, out, _ = konsort(capsys, "--data-dir", node, "ledger", "verify", "--json")
    assert code == 0 and json.loads(out)["ok"]
    assert json.loads(out)["totals"]["customer"] > 0
    # A second seed would mix with the first: refused, even with the flag.
    code, _, err = konsort(
        capsys, "--data-dir", node, "dev", "seed", "--customers", "5",
        "--yes-this-is-not-production",
    )  # fmt: skip
    assert code == 2 and "already has members" in err


def test_cli_seeds_a_node_marked_as_dev(
    tmp_path: Path,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    node = str(tmp_path / "node")
    assert (
        konsort(
            capsys, "--data-dir", node, "init", "--node-id", "cafe", "--database-url", database_url
        )[0]
        == 0
    )
    monkeypatch.setenv("KONSORT_DEV_NODE", "true")
    code, out, err = konsort(
        capsys, "--data-dir", node, "dev", "seed", "--customers", "12", "--partners", "cafe"
    )
    assert code == 2 and "not this one" in err
    code, out, err = konsort(
        capsys, "--data-dir", node, "dev", "seed", "--customers", "12", "--seed", "5"
    )
    assert code == 0, err
    assert synthetic_email(5, 0) in err


def test_a_batch_refuses_ids_another_writer_took_meanwhile(
    db: Database, clock: ManualClock
) -> None:
    from node.seed_copy import next_ids_txn, write_batch_txn
    from node.seed_rows import Batch

    with db.read() as session:
        batch = Batch(next_ids_txn(session=session))
    account = batch.new_id("account")
    batch.rows["customer"].append(("cus_seedtest", "active", None))

    def meanwhile(session: Session) -> int:
        return ledger.system_account_txn(session=session, code="program:bench", now=clock.now())

    assert db.write(meanwhile) == account  # the node took the id the batch meant to use
    with pytest.raises(Conflict) as refused, db.transaction() as session:
        write_batch_txn(session=session, batch=batch)
    assert refused.value.code == "seed_interrupted"
    with db.read() as session:
        assert session.execute(text("SELECT COUNT(*) FROM customer")).scalar() == 0
