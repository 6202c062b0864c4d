"""Message bodies: strict schemas, no room for personal data, and answers."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from protocol import (
    MESSAGE_TYPES,
    DonationAnswer,
    ErasureReceipt,
    ItemResult,
    LinkAnswer,
    Message,
    RectificationNotice,
    RectificationReceipt,
    RedemptionAnswer,
    Request,
    RestrictionNotice,
    RestrictionReceipt,
    SettlementAnswer,
    TransferAnswer,
    TransferBatch,
    TransferBatchAnswer,
    TransferItem,
    Voucher,
    accept,
    answer_matches,
    reject,
    sign_answer,
)
from protocol.messages import ANSWER_TYPES, REQUEST_TYPES
from protocol.vectors.fixtures import message_id, signer
from protocol.vectors.valid import valid_message_vectors
from tests.protocol.factories import NOW, make_token, make_transfer_body, verify

PERSONAL_WORDS = ("name", "mail", "phone", "birth", "address", "street", "city", "zip")


def _schema_nodes(schema: Any) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    if isinstance(schema, dict):
        nodes.append(schema)
        for value in schema.values():
            nodes.extend(_schema_nodes(value))
    elif isinstance(schema, list):
        for value in schema:
            nodes.extend(_schema_nodes(value))
    return nodes


@pytest.mark.parametrize("model", list(MESSAGE_TYPES.values()), ids=list(MESSAGE_TYPES))
def test_no_free_text_anywhere_in_a_body(model: type[BaseModel]) -> None:
    """Every string is an id, code or pseudonym pattern or an enum; every number an
    integer with bounds; no field is named like personal data; no extras."""
    nodes = _schema_nodes(model.model_json_schema())
    for node in nodes:
        if node.get("type") == "string":
            assert "pattern" in node or "enum" in node or "const" in node, node
        assert node.get("type") != "number", node
        if node.get("type") == "integer":
            assert "minimum" in node and "maximum" in node, node
        if node.get("type") == "object" and "properties" in node:
            assert node.get("additionalProperties") is False, node
            for field in node["properties"]:
                assert not any(word in field for word in PERSONAL_WORDS), field


def test_every_field_is_required_on_the_wire() -> None:
    for model in MESSAGE_TYPES.values():
        for name, field in model.model_fields.items():
            assert field.is_required(), f"{model.__name__}.{name}"


def test_every_request_has_one_answer_type() -> None:
    assert {r.answer_type for r in REQUEST_TYPES} == set(ANSWER_TYPES)
    assert len(MESSAGE_TYPES) == len(REQUEST_TYPES) + len(ANSWER_TYPES)


@pytest.mark.parametrize("value", [True, 500.0, "500", None, -1, 0, 2**53])
def test_points_are_strict_positive_integers(value: Any) -> None:
    with pytest.raises(ValidationError):
        make_transfer_body(sender_points=value)


def test_kept_minor_may_be_zero() -> None:
    assert make_transfer_body(sender_kept_minor=0).sender_kept_minor == 0


# -- answer rules ------------------------------------------------------------------

IN_REPLY_TO = message_id(5)


@pytest.mark.parametrize("answer", [LinkAnswer, TransferAnswer])
def test_reason_iff_rejected(answer: type[BaseModel]) -> None:
    answer.model_validate({"in_reply_to": IN_REPLY_TO, "outcome": "accepted", "reason": None})
    answer.model_validate({"in_reply_to": IN_REPLY_TO, "outcome": "rejected", "reason": "policy"})
    for outcome, reason in [("accepted", "policy"), ("rejected", None), ("rejected", "nope")]:
        with pytest.raises(ValidationError):
            answer.model_validate(
                {"in_reply_to": IN_REPLY_TO, "outcome": outcome, "reason": reason}
            )


def test_voucher_iff_redemption_accepted() -> None:
    voucher = Voucher(code="VCH-12345678", reward_id="r1", valid_until=NOW)
    with pytest.raises(ValidationError):
        RedemptionAnswer(in_reply_to=IN_REPLY_TO, outcome="accepted", reason=None, voucher=None)
    with pytest.raises(ValidationError):
        RedemptionAnswer(
            in_reply_to=IN_REPLY_TO, outcome="rejected", reason="policy", voucher=voucher
        )


def test_receipt_iff_donation_accepted() -> None:
    with pytest.raises(ValidationError):
        DonationAnswer(in_reply_to=IN_REPLY_TO, outcome="accepted", reason=None, receipt=None)


def test_erasure_receipt_rules() -> None:
    data: dict[str, Any] = {"in_reply_to": IN_REPLY_TO, "outcome": "accepted", "reason": None}
    ledger = {"category": "ledger", "exemption": "legal_obligation", "until": 1956528000}
    messages = {"category": "signed_messages", "exemption": "legal_claims", "until": None}
    ErasureReceipt.model_validate({**data, "erased": [], "kept": []})
    ErasureReceipt.model_validate({**data, "erased": ["link", "pseudonym"], "kept": [ledger]})
    bad: list[dict[str, Any]] = [
        {"erased": ["pseudonym", "link"], "kept": []},  # unsorted
        {"erased": ["link", "link"], "kept": []},  # repeated
        {"erased": ["name"], "kept": []},  # not in the closed list
        {"erased": [], "kept": [messages, ledger]},  # unsorted
        {"erased": [], "kept": [ledger, ledger]},  # repeated
        {"erased": [], "kept": [{**ledger, "exemption": "bookkeeping"}]},  # no such exemption
        {"erased": [], "kept": [{**ledger, "note": "Ann Jensen"}]},  # no free text
        {"erased": [], "kept": [{**ledger, "until": "2031-12-31"}]},  # times are integers
        {"retained": ["ledger"]},  # the 1.0 shape
    ]
    for fields in bad:
        with pytest.raises(ValidationError):
            ErasureReceipt.model_validate({**data, **fields})
    with pytest.raises(ValidationError):  # a rejection erases nothing
        ErasureReceipt.model_validate(
            {**data, "outcome": "rejected", "reason": "policy", "erased": ["link"], "kept": []}
        )
    rejected = ErasureReceipt.rejection(IN_REPLY_TO, "not_supported")
    assert isinstance(rejected, ErasureReceipt) and rejected.erased == [] == rejected.kept


def test_restriction_receipt_rules() -> None:
    data: dict[str, Any] = {"in_reply_to": IN_REPLY_TO, "outcome": "accepted", "reason": None}
    RestrictionReceipt.model_validate({**data, "restricted": True, "stopped": ["transfers"]})
    RestrictionReceipt.model_validate({**data, "restricted": False, "stopped": []})
    bad: list[dict[str, Any]] = [
        {"restricted": None, "stopped": []},  # accepted names the state
        {"restricted": False, "stopped": ["transfers"]},  # a lifted link stops nothing
        {"restricted": True, "stopped": ["transfers", "redemptions"]},  # unsorted
        {"restricted": True, "stopped": ["marketing"]},  # not in the closed list
        {"restricted": 1, "stopped": []},  # booleans are booleans
    ]
    for fields in bad:
        with pytest.raises(ValidationError):
            RestrictionReceipt.model_validate({**data, **fields})
    rejected = RestrictionReceipt.rejection(IN_REPLY_TO, "not_supported")
    assert isinstance(rejected, RestrictionReceipt) and rejected.restricted is None
    with pytest.raises(ValidationError):
        RestrictionNotice.model_validate({"subject": "x" * 43, "restricted": "yes"})


def test_rectification_notice_carries_no_data() -> None:
    RectificationNotice.model_validate({"subject": "x" * 43})
    with pytest.raises(ValidationError):
        RectificationNotice.model_validate({"subject": "x" * 43, "email": "ann@example.org"})
    data: dict[str, Any] = {"in_reply_to": IN_REPLY_TO, "outcome": "accepted", "reason": None}
    RectificationReceipt.model_validate({**data, "held": []})
    for held in (["name", "contact_details"], ["email"], ["name", "name"]):
        with pytest.raises(ValidationError):
            RectificationReceipt.model_validate({**data, "held": held})


def test_settlement_answer_rules() -> None:
    ok: dict[str, Any] = {
        "in_reply_to": IN_REPLY_TO,
        "reason": None,
        "net_minor": -5,
        "differing": [],
    }
    SettlementAnswer.model_validate({**ok, "outcome": "agreed"})
    bad = [
        {**ok, "outcome": "disputed"},
        {**ok, "outcome": "agreed", "differing": [f"cafe:{IN_REPLY_TO}"]},
        {**ok, "outcome": "rejected", "reason": "expired"},
        {**ok, "outcome": "agreed", "net_minor": None},
        {**ok, "outcome": "disputed", "differing": [f"cafe:{IN_REPLY_TO}"] * 2},
    ]
    for data in bad:
        with pytest.raises(ValidationError):
            SettlementAnswer.model_validate(data)


def _item(item: str) -> TransferItem:
    body = make_transfer_body()
    return TransferItem(item=item, **body.model_dump(exclude={"manifest_version"}))


def test_batch_rules() -> None:
    TransferBatch(transfers=[_item("a"), _item("b")], manifest_version=7)
    for transfers in ([], [_item("a"), _item("a")], [_item(str(i)) for i in range(101)]):
        with pytest.raises(ValidationError):
            TransferBatch(transfers=transfers, manifest_version=7)
    with pytest.raises(ValidationError):
        TransferBatchAnswer(in_reply_to=IN_REPLY_TO, outcome="accepted", reason=None, results=[])


# -- building, matching and signing answers -----------------------------------------


def requests() -> list[Message]:
    found = []
    for vector in valid_message_vectors():
        if vector["canonical"] and vector["claims"]["typ"] in {
            r.message_type for r in REQUEST_TYPES
        }:
            found.append(verify(vector["token"], receiver=vector["receiver"]))
    return found


def test_reject_works_for_every_request_type() -> None:
    seen = set()
    for request in requests():
        assert isinstance(request.body, Request)
        answer = reject(request, "expired")
        assert type(answer) is request.body.answer_type
        assert (answer.in_reply_to, answer.outcome, answer.reason) == (
            request.message_id,
            "rejected",
            "expired",
        )
        assert answer_matches(answer, request_id=request.message_id, request=request.body)
        seen.add(request.message_type)
    assert seen == {r.message_type for r in REQUEST_TYPES}


def test_accept_with_extras() -> None:
    batch = next(r for r in requests() if r.message_type == "transfer.batch")
    results = [ItemResult(item="a", outcome="accepted", reason=None)] + [
        ItemResult(item="b", outcome="rejected", reason="consent_missing")
    ]
    answer = accept(batch, results=results)
    assert isinstance(answer, TransferBatchAnswer)
    assert answer_matches(answer, request_id=batch.message_id, request=batch.body)  # type: ignore[arg-type]
    shuffled = accept(batch, results=results[::-1])
    assert not answer_matches(shuffled, request_id=batch.message_id, request=batch.body)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        accept(next(r for r in requests() if r.message_type == "redemption.request"))


def test_answer_matches_checks_type_and_id() -> None:
    request = verify(make_token())
    body = request.body
    assert isinstance(body, Request)
    answer = accept(request)
    assert answer_matches(answer, request_id=request.message_id, request=body)
    assert not answer_matches(answer, request_id=message_id(999), request=body)
    other = LinkAnswer(in_reply_to=request.message_id, outcome="accepted", reason=None)
    assert not answer_matches(other, request_id=request.message_id, request=body)


def test_sign_answer_goes_back_to_the_issuer() -> None:
    request = verify(make_token())
    token = sign_answer(
        request,
        accept(request),
        signer=signer("bookshop:k1"),
        message_id=message_id(200),
        issued_at=NOW,
        expires_at=NOW + 600,
    )
    answer = verify(token, receiver="cafe")
    assert answer.audience == "cafe" and answer.issuer == "bookshop"
    assert isinstance(answer.body, TransferAnswer)
    assert answer.body.in_reply_to == request.message_id


def test_sign_answer_refuses_the_wrong_signer_or_answer() -> None:
    request = verify(make_token())
    kwargs: dict[str, Any] = {
        "message_id": message_id(201),
        "issued_at": NOW,
        "expires_at": NOW + 60,
    }
    with pytest.raises(ValueError, match="audience"):
        sign_answer(request, accept(request), signer=signer("charity:k1"), **kwargs)
    wrong = TransferAnswer(in_reply_to=message_id(999), outcome="accepted", reason=None)
    with pytest.raises(ValueError, match="not an answer"):
        sign_answer(request, wrong, signer=signer("bookshop:k1"), **kwargs)
    answer_message = verify(
        sign_answer(request, accept(request), signer=signer("bookshop:k1"), **kwargs),
        receiver="cafe",
    )
    with pytest.raises(TypeError):
        accept(answer_message)
