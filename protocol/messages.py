"""Message bodies: one strict pydantic model per message type.

Bodies carry pseudonyms, opaque ids and integer amounts, never personal data.
Every model forbids extra fields, takes integers strictly (no floats, no
strings, no booleans) and has no defaults: every field is present on the wire,
``null`` where a value is absent, so one body has exactly one canonical form.

A *subject* is always the customer's pairwise pseudonym as issued by the
**receiver** of the message (see :mod:`protocol.pseudonym`), so the receiver can
look it up directly. An *answer* names the request it answers in
``in_reply_to`` (the request's ``jti``) and is itself a signed message.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from protocol.keys import NODE_ID_PATTERN

MAX_SAFE_INT = 2**53 - 1
"""Largest integer in any message (RFC 7493 I-JSON: exact in every JSON parser)."""

MAX_BATCH_TRANSFERS = 100
MAX_STATEMENT_ENTRIES = 400

Points = Annotated[int, Field(ge=1, le=MAX_SAFE_INT)]
MinorUnits = Annotated[int, Field(ge=0, le=MAX_SAFE_INT)]
SignedMinorUnits = Annotated[int, Field(ge=-MAX_SAFE_INT, le=MAX_SAFE_INT)]
Timestamp = Annotated[int, Field(ge=0, le=MAX_SAFE_INT)]
Version = Annotated[int, Field(ge=1, le=MAX_SAFE_INT)]
NodeId = Annotated[str, Field(pattern=NODE_ID_PATTERN)]
MessageId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{16,64}$")]
Pseudonym = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{43}$")]
OpaqueId = Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")]
Code = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{8,64}$")]
ItemId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
EntryRef = Annotated[
    str,
    Field(pattern=r"^[a-z0-9-]{1,63}:[A-Za-z0-9_-]{16,64}(:[A-Za-z0-9_-]{1,32})?$"),
]

Outcome = Literal["accepted", "rejected"]
RejectReason = Literal[
    "expired",
    "unknown_subject",
    "invalid_link_code",
    "conversion_mismatch",
    "manifest_mismatch",
    "reward_unavailable",
    "consent_missing",
    "limit_exceeded",
    "not_supported",
    "policy",
]


class Body(BaseModel):
    """Base of every body; ``message_type`` is the ``typ`` claim it travels under."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    message_type: ClassVar[str]

    def check_envelope(self, *, issuer: str, audience: str) -> None:
        """Rules that involve the claims; raise ValueError to refuse the body."""


class Answer(Body):
    """Base of every answer body."""

    in_reply_to: MessageId
    outcome: str
    reason: RejectReason | None

    @classmethod
    def rejection(cls, in_reply_to: str, reason: RejectReason) -> Answer:
        """This answer type's rejection of request ``in_reply_to``."""
        return cls.model_validate(
            {"in_reply_to": in_reply_to, "outcome": "rejected", "reason": reason}
        )


class Request(Body):
    """Base of every message that expects an answer."""

    answer_type: ClassVar[type[Answer]]


def _reason_iff_rejected(outcome: str, reason: str | None) -> None:
    if (outcome == "rejected") != (reason is not None):
        raise ValueError("reason is required when rejected and forbidden otherwise")


def _unique_sorted(values: list[str], what: str) -> None:
    if any(a >= b for a, b in zip(values, values[1:], strict=False)):
        raise ValueError(f"{what} must be sorted and unique")


# -- account link ---------------------------------------------------------------


class LinkAnswer(Answer):
    """Answer to ``link.request`` and ``link.revoke``."""

    message_type: ClassVar[str] = "link.answer"
    outcome: Outcome

    @model_validator(mode="after")
    def _check(self) -> LinkAnswer:
        _reason_iff_rejected(self.outcome, self.reason)
        return self


class LinkRequest(Request):
    """Link the sender's account of a customer to the receiver's.

    The customer got ``subject`` and the single-use ``link_code`` from the
    receiver and gave them to the sender; ``requester_subject`` is the sender's
    pseudonym for the same customer towards the receiver.
    """

    message_type: ClassVar[str] = "link.request"
    answer_type: ClassVar[type[Answer]] = LinkAnswer
    subject: Pseudonym
    requester_subject: Pseudonym
    link_code: Code


class LinkRevoke(Request):
    """Drop the link of ``subject``; answered by ``link.answer``."""

    message_type: ClassVar[str] = "link.revoke"
    answer_type: ClassVar[type[Answer]] = LinkAnswer
    subject: Pseudonym


# -- point transfer -------------------------------------------------------------


class TransferAnswer(Answer):
    message_type: ClassVar[str] = "transfer.answer"
    outcome: Outcome

    @model_validator(mode="after")
    def _check(self) -> TransferAnswer:
        _reason_iff_rejected(self.outcome, self.reason)
        return self


class TransferRequest(Request):
    """Move points: the sender debited ``sender_points`` into escrow; the receiver
    credits ``receiver_points`` and is owed ``value_minor`` in settlement. The
    amounts follow the value rule of :mod:`protocol.value` under the manifest
    ``manifest_version``."""

    message_type: ClassVar[str] = "transfer.request"
    answer_type: ClassVar[type[Answer]] = TransferAnswer
    subject: Pseudonym
    sender_points: Points
    receiver_points: Points
    value_minor: Points
    sender_kept_minor: MinorUnits
    manifest_version: Version


class TransferItem(BaseModel):
    """One transfer inside ``transfer.batch``; ``item`` is unique in the batch."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    item: ItemId
    subject: Pseudonym
    sender_points: Points
    receiver_points: Points
    value_minor: Points
    sender_kept_minor: MinorUnits


class ItemResult(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    item: ItemId
    outcome: Outcome
    reason: RejectReason | None

    @model_validator(mode="after")
    def _check(self) -> ItemResult:
        _reason_iff_rejected(self.outcome, self.reason)
        return self


class TransferBatchAnswer(Answer):
    """``accepted``: the batch was processed, ``results`` has one entry per item in
    the request's order. ``rejected``: every item is rejected for ``reason``."""

    message_type: ClassVar[str] = "transfer.batch_answer"
    outcome: Outcome
    results: list[ItemResult] = Field(max_length=MAX_BATCH_TRANSFERS)

    @model_validator(mode="after")
    def _check(self) -> TransferBatchAnswer:
        _reason_iff_rejected(self.outcome, self.reason)
        if (self.outcome == "accepted") != bool(self.results):
            raise ValueError("results are required when accepted and forbidden otherwise")
        if len({r.item for r in self.results}) != len(self.results):
            raise ValueError("result items must be unique")
        return self

    @classmethod
    def rejection(cls, in_reply_to: str, reason: RejectReason) -> Answer:
        return cls(in_reply_to=in_reply_to, outcome="rejected", reason=reason, results=[])


class TransferBatch(Request):
    """Several independent transfers under one signature (1 to 100 items)."""

    message_type: ClassVar[str] = "transfer.batch"
    answer_type: ClassVar[type[Answer]] = TransferBatchAnswer
    transfers: list[TransferItem] = Field(min_length=1, max_length=MAX_BATCH_TRANSFERS)
    manifest_version: Version

    @model_validator(mode="after")
    def _check(self) -> TransferBatch:
        if len({t.item for t in self.transfers}) != len(self.transfers):
            raise ValueError("transfer items must be unique")
        return self


# -- partner reward redemption -------------------------------------------------


class Voucher(BaseModel):
    """What the customer shows at the receiver to collect the reward."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    code: Code
    reward_id: OpaqueId
    valid_until: Timestamp


class RedemptionAnswer(Answer):
    message_type: ClassVar[str] = "redemption.answer"
    outcome: Outcome
    voucher: Voucher | None

    @model_validator(mode="after")
    def _check(self) -> RedemptionAnswer:
        _reason_iff_rejected(self.outcome, self.reason)
        if (self.outcome == "accepted") != (self.voucher is not None):
            raise ValueError("voucher is required when accepted and forbidden otherwise")
        return self

    @classmethod
    def rejection(cls, in_reply_to: str, reason: RejectReason) -> Answer:
        return cls(in_reply_to=in_reply_to, outcome="rejected", reason=reason, voucher=None)


class RedemptionRequest(Request):
    """Redeem the receiver's reward ``reward_id`` (priced ``receiver_points``)
    with the sender's points; amounts follow :func:`protocol.conversion_for`."""

    message_type: ClassVar[str] = "redemption.request"
    answer_type: ClassVar[type[Answer]] = RedemptionAnswer
    subject: Pseudonym
    reward_id: OpaqueId
    sender_points: Points
    receiver_points: Points
    value_minor: Points
    sender_kept_minor: MinorUnits
    manifest_version: Version


# -- charity donation -----------------------------------------------------------


class DonationReceipt(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    receipt_id: OpaqueId
    value_minor: Points
    currency: Currency


class DonationAnswer(Answer):
    message_type: ClassVar[str] = "donation.answer"
    outcome: Outcome
    receipt: DonationReceipt | None

    @model_validator(mode="after")
    def _check(self) -> DonationAnswer:
        _reason_iff_rejected(self.outcome, self.reason)
        if (self.outcome == "accepted") != (self.receipt is not None):
            raise ValueError("receipt is required when accepted and forbidden otherwise")
        return self

    @classmethod
    def rejection(cls, in_reply_to: str, reason: RejectReason) -> Answer:
        return cls(in_reply_to=in_reply_to, outcome="rejected", reason=reason, receipt=None)


class DonationRequest(Request):
    """Donate ``sender_points`` worth ``value_minor`` (= points x the sender's point
    value) to a charity; ``subject`` is null for an anonymous donation."""

    message_type: ClassVar[str] = "donation.request"
    answer_type: ClassVar[type[Answer]] = DonationAnswer
    subject: Pseudonym | None
    sender_points: Points
    value_minor: Points
    manifest_version: Version


# -- erasure, restriction and rectification notices (GDPR Art. 17(2), 19) -------

ErasedCategory = Literal["link", "pending_link_codes", "pseudonym"]
"""What a receiver erased because of an erasure notice (closed list)."""
KeptCategory = Literal["ledger", "settlement", "signed_messages"]
"""What a receiver may keep after an erasure notice (closed list)."""
Exemption = Literal["legal_claims", "legal_obligation"]
"""Why it is kept: GDPR Art. 17(3)(b) ``legal_obligation`` (e.g. bookkeeping
law) or Art. 17(3)(e) ``legal_claims`` (establishing or defending them)."""
StoppedProcessing = Literal["named_donations", "redemptions", "transfers"]
"""What a receiver stops over a restricted link (closed list)."""
HeldCategory = Literal["contact_details", "date_of_birth", "name"]
"""Personal data of the sender's customer a receiver holds (closed list)."""


class KeptRecord(BaseModel):
    """One category a receiver keeps, the exemption it is kept under, and until
    when (``null``: no date can be named yet)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    category: KeptCategory
    exemption: Exemption
    until: Timestamp | None


class ErasureReceipt(Answer):
    """``accepted``: the receiver erased ``erased`` (sorted, unique; empty when it
    held nothing under that pseudonym) and keeps only ``kept`` (sorted by
    category, unique), each under an exemption. A rejection lists nothing."""

    message_type: ClassVar[str] = "erasure.receipt"
    outcome: Outcome
    erased: list[ErasedCategory]
    kept: list[KeptRecord]

    @model_validator(mode="after")
    def _check(self) -> ErasureReceipt:
        _reason_iff_rejected(self.outcome, self.reason)
        _unique_sorted(list(self.erased), "erased")
        _unique_sorted([k.category for k in self.kept], "kept categories")
        if self.outcome == "rejected" and (self.erased or self.kept):
            raise ValueError("a rejection erases and keeps nothing")
        return self

    @classmethod
    def rejection(cls, in_reply_to: str, reason: RejectReason) -> Answer:
        return cls(in_reply_to=in_reply_to, outcome="rejected", reason=reason, erased=[], kept=[])


class ErasureNotice(Request):
    """The customer behind ``subject`` had their data erased at the sender."""

    message_type: ClassVar[str] = "erasure.notice"
    answer_type: ClassVar[type[Answer]] = ErasureReceipt
    subject: Pseudonym


class RestrictionReceipt(Answer):
    """``accepted``: ``restricted`` is the link's state at the receiver now, and
    ``stopped`` (sorted, unique) what it no longer does over the link; empty when
    the restriction is lifted or the receiver has no link under that pseudonym."""

    message_type: ClassVar[str] = "restriction.receipt"
    outcome: Outcome
    restricted: bool | None
    stopped: list[StoppedProcessing]

    @model_validator(mode="after")
    def _check(self) -> RestrictionReceipt:
        _reason_iff_rejected(self.outcome, self.reason)
        _unique_sorted(list(self.stopped), "stopped")
        if (self.outcome == "rejected") != (self.restricted is None):
            raise ValueError("restricted is required unless rejected")
        if self.stopped and not self.restricted:
            raise ValueError("only a restricted link stops anything")
        return self

    @classmethod
    def rejection(cls, in_reply_to: str, reason: RejectReason) -> Answer:
        return cls(
            in_reply_to=in_reply_to, outcome="rejected", reason=reason, restricted=None, stopped=[]
        )


class RestrictionNotice(Request):
    """The processing of the customer behind ``subject`` is restricted at the
    sender (``restricted`` true), or that restriction is lifted (false)."""

    message_type: ClassVar[str] = "restriction.notice"
    answer_type: ClassVar[type[Answer]] = RestrictionReceipt
    subject: Pseudonym
    restricted: bool


class RectificationReceipt(Answer):
    """``accepted``: ``held`` (sorted, unique) lists the personal data of the
    sender's customer the receiver holds and will rectify through its own
    channels; normally empty, because partners hold none."""

    message_type: ClassVar[str] = "rectification.receipt"
    outcome: Outcome
    held: list[HeldCategory]

    @model_validator(mode="after")
    def _check(self) -> RectificationReceipt:
        _reason_iff_rejected(self.outcome, self.reason)
        _unique_sorted(list(self.held), "held")
        if self.outcome == "rejected" and self.held:
            raise ValueError("a rejection holds nothing")
        return self

    @classmethod
    def rejection(cls, in_reply_to: str, reason: RejectReason) -> Answer:
        return cls(in_reply_to=in_reply_to, outcome="rejected", reason=reason, held=[])


class RectificationNotice(Request):
    """The sender rectified personal data of the customer behind ``subject``. The
    data itself never travels: partners hold none of it."""

    message_type: ClassVar[str] = "rectification.notice"
    answer_type: ClassVar[type[Answer]] = RectificationReceipt
    subject: Pseudonym


# -- settlement -----------------------------------------------------------------


class StatementEntry(BaseModel):
    """One cross-node event of the period: ``ref`` is ``<iss>:<jti>`` of the
    request (``<iss>:<jti>:<item>`` for a batch item); ``creditor`` is the node
    owed ``value_minor``."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    ref: EntryRef
    kind: Literal["transfer", "redemption", "donation"]
    creditor: NodeId
    value_minor: Points


def statement_net(entries: list[StatementEntry], *, creditor: str) -> int:
    """What the other side owes ``creditor`` in total (negative: ``creditor`` owes)."""
    return sum(e.value_minor if e.creditor == creditor else -e.value_minor for e in entries)


SettlementOutcome = Literal["agreed", "disputed", "rejected"]


class SettlementAnswer(Answer):
    """``agreed``: the receiver's records match; ``disputed``: ``differing`` lists
    every ref that is missing on either side or differs; ``net_minor`` is the
    net by the receiver's own records, from the statement sender's view."""

    message_type: ClassVar[str] = "settlement.answer"
    outcome: SettlementOutcome
    net_minor: SignedMinorUnits | None
    differing: list[EntryRef] = Field(max_length=2 * MAX_STATEMENT_ENTRIES)

    @model_validator(mode="after")
    def _check(self) -> SettlementAnswer:
        _reason_iff_rejected(self.outcome, self.reason)
        _unique_sorted(self.differing, "differing")
        if (self.outcome == "disputed") != bool(self.differing):
            raise ValueError("differing is required when disputed and forbidden otherwise")
        if (self.outcome == "rejected") != (self.net_minor is None):
            raise ValueError("net_minor is required unless rejected")
        return self

    @classmethod
    def rejection(cls, in_reply_to: str, reason: RejectReason) -> Answer:
        return cls(
            in_reply_to=in_reply_to, outcome="rejected", reason=reason, net_minor=None, differing=[]
        )


class SettlementStatement(Request):
    """The sender's account of the pair's period ``[period_start, period_end)``:
    every event whose request ``iat`` falls in it, sorted by ref, and the net
    the receiver owes the sender (negative: the sender owes)."""

    message_type: ClassVar[str] = "settlement.statement"
    answer_type: ClassVar[type[Answer]] = SettlementAnswer
    period_id: OpaqueId
    period_start: Timestamp
    period_end: Timestamp
    currency: Currency
    manifest_version: Version
    entries: list[StatementEntry] = Field(max_length=MAX_STATEMENT_ENTRIES)
    net_minor: SignedMinorUnits

    @model_validator(mode="after")
    def _check(self) -> SettlementStatement:
        if self.period_end <= self.period_start:
            raise ValueError("period_end must be after period_start")
        _unique_sorted([e.ref for e in self.entries], "entry refs")
        return self

    def check_envelope(self, *, issuer: str, audience: str) -> None:
        if any(e.creditor not in (issuer, audience) for e in self.entries):
            raise ValueError("every creditor must be the sender or the receiver")
        if statement_net(self.entries, creditor=issuer) != self.net_minor:
            raise ValueError("net_minor does not match the entries")


REQUEST_TYPES: tuple[type[Request], ...] = (
    LinkRequest,
    LinkRevoke,
    TransferRequest,
    TransferBatch,
    RedemptionRequest,
    DonationRequest,
    ErasureNotice,
    RestrictionNotice,
    RectificationNotice,
    SettlementStatement,
)
ANSWER_TYPES: tuple[type[Answer], ...] = (
    LinkAnswer,
    TransferAnswer,
    TransferBatchAnswer,
    RedemptionAnswer,
    DonationAnswer,
    ErasureReceipt,
    RestrictionReceipt,
    RectificationReceipt,
    SettlementAnswer,
)
MESSAGE_TYPES: dict[str, type[Body]] = {
    cls.message_type: cls for cls in (*REQUEST_TYPES, *ANSWER_TYPES)
}
"""Every body model by its ``typ`` claim."""


def body_claim(body: Body) -> dict[str, Any]:
    """The body as it appears in the ``body`` claim."""
    return body.model_dump(mode="json")
