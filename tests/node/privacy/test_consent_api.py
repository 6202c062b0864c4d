"""Consent purposes, records and restriction through the HTTP API, the CLI and the service."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from node.cli import main
from node.clock import ManualClock
from node.db import Database
from node.errors import ConsentRequired, ProcessingRestricted
from node.services import consent
from tests.node.conftest import Operator

DEFAULTS = ["analytics", "marketing", "membership", "partner_transfers"]


def me(operator: Operator, customer: str) -> dict[str, str]:
    minted = operator.post(f"/api/v1/customers/{customer}/tokens")
    return {"Authorization": f"Bearer {minted.json()['token']}"}


def put_mine(
    operator: Operator, token: dict[str, str], purpose: str, body: Any, key: str | None = None
) -> httpx.Response:
    headers = {**token, "Idempotency-Key": key or str(uuid.uuid4())}
    return operator.client.put(f"/api/v1/me/consents/{purpose}", json=body, headers=headers)


def put_theirs(operator: Operator, customer: str, purpose: str, body: Any) -> httpx.Response:
    return operator.client.put(
        f"/api/v1/customers/{customer}/consents/{purpose}",
        json=body,
        headers={**operator.auth, "Idempotency-Key": str(uuid.uuid4())},
    )


def states(operator: Operator, customer: str) -> dict[str, dict[str, Any]]:
    found = operator.get(f"/api/v1/customers/{customer}/consents")
    assert found.status_code == 200, found.text
    return {item["purpose"]: item for item in found.json()["purposes"]}


def history(operator: Operator, customer: str) -> list[dict[str, Any]]:
    found = operator.get(f"/api/v1/customers/{customer}/consents/history")
    assert found.status_code == 200, found.text
    return list(found.json()["items"])


def test_each_purpose_is_its_own_choice_with_plain_wording(operator: Operator) -> None:
    found = operator.get("/api/v1/consent/purposes").json()["items"]
    by_id = {item["purpose"]: item for item in found}
    assert sorted(by_id) == [*DEFAULTS, "personalised_offers", "profiling"]
    assert by_id["membership"]["legal_basis"] == "contract"
    assert by_id["membership"]["withdrawable"] is False
    assert all(by_id[p]["legal_basis"] == "consent" for p in by_id if p != "membership")
    assert all(item["current_version"] == 1 and item["text"] for item in found)


def test_enrolment_records_its_answers_in_the_same_transaction(operator: Operator) -> None:
    ann = operator.enrol(consents={"marketing": True, "profiling": False})
    found = states(operator, ann)
    assert found["marketing"]["state"] == "granted"
    assert found["marketing"]["channel"] == "enrolment"
    assert found["profiling"]["state"] == "withdrawn"
    assert found["partner_transfers"]["state"] == "not_given"
    assert found["membership"]["state"] == "contract"
    assert [(r["purpose"], r["granted"]) for r in history(operator, ann)] == [
        ("marketing", True),
        ("profiling", False),
    ]


def test_enrolment_with_an_unknown_purpose_enrols_no_one(operator: Operator, db: Database) -> None:
    refused = operator.post("/api/v1/customers", {"consents": {"newsletter": True}})
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "consents.newsletter"
    membership = operator.post("/api/v1/customers", {"consents": {"membership": False}})
    assert membership.status_code == 409
    with db.read() as session:
        assert session.execute(text("SELECT count(*) FROM customer")).scalar_one() == 0
        assert session.execute(text("SELECT count(*) FROM consent_record")).scalar_one() == 0


def test_withdrawing_is_the_same_request_as_granting(operator: Operator) -> None:
    ann = operator.enrol()
    token = me(operator, ann)
    granted = put_mine(operator, token, "marketing", {"granted": True})
    assert granted.status_code == 200
    assert (granted.json()["state"], granted.json()["wording_version"]) == ("granted", 1)
    withdrawn = put_mine(operator, token, "marketing", {"granted": False})
    assert withdrawn.status_code == 200 and withdrawn.json()["state"] == "withdrawn"
    mine = operator.client.get("/api/v1/me/consents", headers=token).json()
    assert {p["purpose"]: p["state"] for p in mine["purposes"]}["marketing"] == "withdrawn"
    assert [(r["granted"], r["channel"], r["actor"]) for r in history(operator, ann)] == [
        (True, "customer_api", "customer"),
        (False, "customer_api", "customer"),
    ]


def test_the_operator_records_where_consent_was_given(operator: Operator) -> None:
    ann = operator.enrol()
    given = put_theirs(operator, ann, "analytics", {"granted": True, "channel": "in_store"})
    assert given.status_code == 200, given.text
    [record] = history(operator, ann)
    assert record["channel"] == "in_store"
    assert record["actor"].startswith("key_")
    bad = put_theirs(operator, ann, "analytics", {"granted": True, "channel": "telepathy"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "channel"


def test_unknown_purposes_and_membership_are_refused_clearly(operator: Operator) -> None:
    ann = operator.enrol()
    token = me(operator, ann)
    unknown = put_mine(operator, token, "newsletter", {"granted": True})
    assert unknown.status_code == 422
    assert unknown.json()["error"]["field"] == "purpose"
    membership = put_mine(operator, token, "membership", {"granted": False})
    assert membership.status_code == 409
    assert membership.json()["error"]["code"] == "not_a_consent"
    assert "leaves the programme" in membership.json()["error"]["message"]
    not_bool = put_mine(operator, token, "marketing", {"granted": "yes"})
    assert not_bool.status_code == 422
    assert history(operator, ann) == []


def test_a_replay_gets_the_same_answer_and_writes_once(operator: Operator) -> None:
    ann = operator.enrol()
    token = me(operator, ann)
    first = put_mine(operator, token, "marketing", {"granted": True}, key="k1")
    again = put_mine(operator, token, "marketing", {"granted": True}, key="k1")
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    other = put_mine(operator, token, "marketing", {"granted": False}, key="k1")
    assert other.status_code == 409
    # A new key repeating the current answer writes nothing new either.
    assert put_mine(operator, token, "marketing", {"granted": True}).status_code == 200
    assert len(history(operator, ann)) == 1


def test_wording_versions(operator: Operator) -> None:
    ann = operator.enrol()
    token = me(operator, ann)
    put_mine(operator, token, "marketing", {"granted": True})
    published = operator.post(
        "/api/v1/consent/purposes",
        {"purpose": "marketing", "title": "Marketing", "text": "News by email, text or post."},
    )
    assert published.status_code == 201, published.text
    assert published.json()["version"] == 2
    # The grant stays valid for the version Ann saw; the answer shows the newer one.
    mine = states(operator, ann)["marketing"]
    assert (mine["state"], mine["wording_version"], mine["current_version"]) == ("granted", 1, 2)
    assert "email or text message" in mine["text"]
    confirmed = put_mine(operator, token, "marketing", {"granted": True})
    assert confirmed.json()["wording_version"] == 2
    older = put_mine(operator, token, "marketing", {"granted": True, "wording_version": 1})
    assert older.status_code == 200 and older.json()["wording_version"] == 1
    missing = put_mine(operator, token, "marketing", {"granted": True, "wording_version": 3})
    assert missing.status_code == 422
    assert missing.json()["error"]["field"] == "wording_version"
    assert [r["wording_version"] for r in history(operator, ann)] == [1, 2, 1]


def test_a_node_adds_a_purpose_of_its_own(operator: Operator) -> None:
    added = operator.post(
        "/api/v1/consent/purposes",
        {"purpose": "surveys", "title": "Surveys", "text": "We may ask your opinion."},
    )
    assert added.status_code == 201
    assert (added.json()["version"], added.json()["legal_basis"]) == (1, "consent")
    ann = operator.enrol(consents={"surveys": True})
    assert states(operator, ann)["surveys"]["state"] == "granted"
    bad = operator.post("/api/v1/consent/purposes", {"purpose": "X!", "title": "t", "text": "t"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "purpose"


def test_records_are_append_only(operator: Operator, db: Database) -> None:
    ann = operator.enrol(consents={"marketing": True})
    with pytest.raises(DBAPIError, match="append-only"):
        with db.transaction() as session:
            session.execute(text("UPDATE consent_record SET granted = false"))
    with pytest.raises(DBAPIError, match="append-only"):
        with db.transaction() as session:
            session.execute(text("UPDATE consent_wording SET text = 'changed'"))
    assert states(operator, ann)["marketing"]["state"] == "granted"


def test_the_guard_and_restriction(operator: Operator, db: Database, clock: ManualClock) -> None:
    ann = operator.enrol(consents={"marketing": True})
    with db.transaction() as session:
        assert consent.has_consent_txn(session=session, customer_id=ann, purpose="marketing")
        assert not consent.has_consent_txn(session=session, customer_id=ann, purpose="analytics")
        with pytest.raises(ConsentRequired) as refused:
            consent.require_consent_txn(session=session, customer_id=ann, purpose="analytics")
        assert (refused.value.field, refused.value.http_status) == ("analytics", 403)
        assert ann not in refused.value.message
        assert consent.set_restriction_txn(
            session=session,
            customer_id=ann,
            restricted=True,
            reason="accuracy_contested",
            actor="dpo",
            now=clock.now(),
        )
    with db.transaction() as session:
        assert consent.is_restricted_txn(session=session, customer_id=ann)
        assert not consent.has_consent_txn(session=session, customer_id=ann, purpose="marketing")
        assert consent.has_consent_txn(session=session, customer_id=ann, purpose="membership")
        with pytest.raises(ProcessingRestricted):
            consent.require_consent_txn(session=session, customer_id=ann, purpose="marketing")
    assert operator.earn(ann, 10_000).status_code == 201  # membership goes on
    assert operator.get(f"/api/v1/customers/{ann}/consents").json()["restricted"] is True
    with db.transaction() as session:
        with pytest.raises(Exception, match="never free text"):
            consent.set_restriction_txn(
                session=session,
                customer_id=ann,
                restricted=False,
                reason="Ann called, said fine",
                actor="dpo",
                now=clock.now(),
            )
    with db.transaction() as session:
        consent.set_restriction_txn(
            session=session,
            customer_id=ann,
            restricted=False,
            reason="resolved",
            actor="dpo",
            now=clock.now(),
        )
        assert consent.has_consent_txn(session=session, customer_id=ann, purpose="marketing")


def test_withdrawal_hooks_run_in_the_withdrawal_transaction(
    operator: Operator, db: Database, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, bool]] = []

    def hook(*, session: Any, customer_id: str, now: Any) -> None:
        granted = session.execute(
            text("SELECT granted FROM consent_record ORDER BY id DESC LIMIT 1")
        ).scalar_one()
        calls.append((customer_id, bool(granted)))

    monkeypatch.setitem(consent.ON_WITHDRAWAL, "personalised_offers", [hook])
    ann = operator.enrol(consents={"personalised_offers": True})
    assert calls == []
    put_theirs(operator, ann, "personalised_offers", {"granted": False})
    assert calls == [(ann, False)]  # the hook saw the withdrawal, uncommitted yet
    with db.transaction() as session:
        consent.set_restriction_txn(
            session=session,
            customer_id=ann,
            restricted=True,
            reason="objection_pending",
            actor="dpo",
            now=clock.now(),
        )
    assert len(calls) == 2


def test_export_rows_carry_the_wording(operator: Operator, db: Database) -> None:
    ann = operator.enrol(consents={"analytics": True})
    with db.read() as session:
        [row] = consent.consent_export_rows_txn(session=session, customer_id=ann)
    assert (row["purpose"], row["granted"], row["wording_version"]) == ("analytics", True, 1)
    assert "statistics" in row["wording"]


def test_retention_deletes_chains_of_old_withdrawals(
    operator: Operator, db: Database, clock: ManualClock
) -> None:
    ann = operator.enrol(consents={"marketing": True, "analytics": True})
    bo = operator.enrol(consents={"marketing": True})
    put_theirs(operator, ann, "marketing", {"granted": False})
    clock.advance(timedelta(days=400))
    put_theirs(operator, bo, "marketing", {"granted": False})  # recent: not due yet
    cutoff = clock.now() - timedelta(days=365)
    with db.transaction() as session:
        due = consent.retention_due_txn(session=session, cutoff=cutoff, limit=100)
        assert len(due) == 2  # Ann's marketing grant and its withdrawal
        assert consent.retention_apply_txn(session=session, ids=due, now=clock.now()) == 2
    assert [r["purpose"] for r in history(operator, ann)] == ["analytics"]
    assert len(history(operator, bo)) == 2


def test_the_cli_lists_and_publishes_wording(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = ["--data-dir", str(tmp_path / "cafe")]
    assert main([*env, "init", "--node-id", "cafe", "--database-url", database_url]) == 0
    wording = tmp_path / "wording.txt"
    wording.write_text("News and offers by email.", encoding="utf-8")
    capsys.readouterr()
    assert main([*env, "consent", "purposes", "list"]) == 0
    assert "membership\tv1\tcontract\tMembership" in capsys.readouterr().out
    publish = ["consent", "purposes", "publish", "marketing", "--title", "Marketing"]
    assert main([*env, *publish, "--text-file", str(wording)]) == 0
    assert "marketing wording version 2" in capsys.readouterr().out
    assert main([*env, "consent", "purposes", "publish", "x", "--title", "t"]) == 2
    assert main([*env, *publish, "--text", "Offers by post."]) == 0
    listed = main([*env, "consent", "purposes", "list"])
    assert listed == 0 and "marketing\tv3\tconsent" in capsys.readouterr().out
