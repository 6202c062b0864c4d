"""The request workflow: states, verification, idempotency, who may see what."""

from __future__ import annotations

import pytest

from tests.node.conftest import Operator
from tests.node.privacy.helpers import MINE, STAFF, Member, approve, staff_file, verify_in_person


def test_a_member_files_a_request_verified_by_their_token(operator: Operator) -> None:
    member = Member(operator, operator.enrol(name="Ann", email="ann@example.com"))
    response = member.post(MINE, {"type": "objection", "details": "no more newsletters"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["state"] == "identity_verified"
    assert body["verification"]["method"] == "customer_token"
    assert "newsletters" not in response.text and "ann@" not in response.text
    listed = member.get(MINE).json()["items"]
    assert [item["id"] for item in listed] == [body["id"]]


def test_every_legal_transition_is_recorded_in_the_history(operator: Operator) -> None:
    customer = operator.enrol(name="Ann")
    request_id = staff_file(operator, customer, "objection")
    assert verify_in_person(operator, request_id).json()["state"] == "identity_verified"
    done = approve(operator, request_id)
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "done"
    history = operator.get(f"{STAFF}/{request_id}").json()["history"]
    moves = [(event["from_state"], event["to_state"]) for event in history]
    assert moves == [
        (None, "received"),
        ("received", "identity_verified"),
        ("identity_verified", "approved"),
        ("approved", "done"),
    ]
    assert history[1]["actor"] == history[2]["actor"] != "customer"


def test_rejection_needs_a_reason_and_closes_the_request(operator: Operator) -> None:
    request_id = staff_file(operator, operator.enrol(name="Ann"))
    missing = operator.post(f"{STAFF}/{request_id}/reject", {})
    assert missing.status_code == 422 and missing.json()["error"]["field"] == "reason"
    rejected = operator.post(f"{STAFF}/{request_id}/reject", {"reason": "manifestly unfounded"})
    assert rejected.json()["state"] == "rejected"
    assert rejected.json()["rejection_reason"] == "manifestly unfounded"


@pytest.mark.parametrize(
    ("steps", "illegal"),
    [
        ([], "approve"),  # received -> approved skips verification
        (["reject"], "verify"),
        (["reject"], "approve"),
        (["reject"], "reject"),
        (["verify", "approve"], "approve"),
        (["verify", "approve"], "reject"),
        (["verify", "approve"], "verify"),
        (["verify"], "verify"),
        (["verify", "approve"], "extend"),
    ],
)
def test_illegal_transitions_are_refused_with_409(
    operator: Operator, steps: list[str], illegal: str
) -> None:
    request_id = staff_file(operator, operator.enrol(name="Ann"), "access")
    bodies = {
        "verify": {"method": "in_person_document"},
        "approve": None,
        "reject": {"reason": "duplicate"},
        "extend": {"months": 1, "reason": "many requests"},
    }
    for step in steps:
        assert operator.post(f"{STAFF}/{request_id}/{step}", bodies[step]).status_code == 200
    before = operator.get(f"{STAFF}/{request_id}").json()
    refused = operator.post(f"{STAFF}/{request_id}/{illegal}", bodies[illegal])
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "invalid_transition"
    assert operator.get(f"{STAFF}/{request_id}").json() == before


@pytest.mark.parametrize("method", ["email", "phone", "member_number", "name"])
def test_a_second_identifier_cannot_verify_identity(operator: Operator, method: str) -> None:
    request_id = staff_file(operator, operator.enrol(name="Ann"), "erasure")
    refused = operator.post(f"{STAFF}/{request_id}/verify", {"method": method})
    assert refused.status_code == 422
    assert "second identifier cannot verify identity" in refused.json()["error"]["message"]
    assert operator.get(f"{STAFF}/{request_id}").json()["state"] == "received"
    assert approve(operator, request_id).status_code == 409


def test_unknown_verification_methods_are_refused(operator: Operator) -> None:
    request_id = staff_file(operator, operator.enrol(name="Ann"))
    refused = operator.post(f"{STAFF}/{request_id}/verify", {"method": "gut_feeling"})
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "method"


def test_the_member_confirms_a_request_staff_filed(operator: Operator) -> None:
    customer = operator.enrol(name="Ann")
    request_id = staff_file(operator, customer, "access")
    asked = operator.post(f"{STAFF}/{request_id}/verify", {"method": "customer_token_confirmation"})
    assert asked.json()["state"] == "received"
    assert asked.json()["verification"]["method"] == "customer_token_confirmation"
    other = Member(operator, operator.enrol(name="Bob"))
    assert other.post(f"{MINE}/{request_id}/confirm").status_code == 404
    assert other.get(f"{MINE}/{request_id}").status_code == 404
    confirmed = Member(operator, customer).post(f"{MINE}/{request_id}/confirm")
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["state"] == "identity_verified"
    assert confirmed.json()["verification"]["verified_by"] == "customer"


def test_writes_are_idempotent(operator: Operator) -> None:
    member = Member(operator, operator.enrol(name="Ann"))
    first = member.post(MINE, {"type": "access"}, key="file-1")
    again = member.post(MINE, {"type": "access"}, key="file-1")
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert len(member.get(MINE).json()["items"]) == 1
    different = member.post(MINE, {"type": "erasure"}, key="file-1")
    assert different.status_code == 409
    request_id = first.json()["id"]
    done = operator.post(f"{STAFF}/{request_id}/approve", key="approve-1")
    replay = operator.post(f"{STAFF}/{request_id}/approve", key="approve-1")
    assert done.status_code == replay.status_code == 200
    assert replay.headers["Idempotent-Replayed"] == "true"


def test_writes_need_an_idempotency_key(operator: Operator) -> None:
    customer = operator.enrol(name="Ann")
    response = operator.client.post(
        STAFF,
        json={"customer_id": customer, "type": "access", "channel": "email"},
        headers=operator.auth,
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "idempotency_key_missing"


@pytest.mark.parametrize(
    "body",
    [
        {"type": "deletion"},
        {"type": "access", "surprise": 1},
        {"type": "rectification"},
        {"type": "access", "changes": {"name": "Ann B"}},
        {"type": "rectification", "changes": {"email": "not an email"}},
    ],
)
def test_bad_filings_are_refused_with_422(operator: Operator, body: dict[str, object]) -> None:
    member = Member(operator, operator.enrol(name="Ann"))
    response = member.post(MINE, body)
    assert response.status_code == 422, response.text
    assert member.get(MINE).json()["items"] == []


def test_staff_filing_for_an_unknown_member_is_404(operator: Operator) -> None:
    response = operator.post(STAFF, {"customer_id": "cus_x", "type": "access", "channel": "email"})
    assert response.status_code == 404


def test_staff_list_filters_and_pages(operator: Operator) -> None:
    customer = operator.enrol(name="Ann")
    ids = [staff_file(operator, customer, kind) for kind in ("access", "erasure", "access")]
    operator.post(f"{STAFF}/{ids[2]}/reject", {"reason": "duplicate"})
    page = operator.get(f"{STAFF}?type=access&limit=1").json()
    assert [item["id"] for item in page["items"]] == [ids[0]]
    rest = operator.get(f"{STAFF}?type=access&limit=1&cursor={page['next_cursor']}").json()
    assert [item["id"] for item in rest["items"]] == [ids[2]] and rest["next_cursor"] is None
    received = operator.get(f"{STAFF}?state=received").json()["items"]
    assert [item["id"] for item in received] == ids[:2]
    assert operator.get(f"{STAFF}?state=nonsense").status_code == 422
