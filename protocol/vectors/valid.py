"""Valid messages of every type, from the fixed consortium of :mod:`.fixtures`."""

from __future__ import annotations

import json
from typing import Any

from protocol.encoding import canonical_json
from protocol.messages import (
    DonationAnswer,
    DonationReceipt,
    DonationRequest,
    ErasureNotice,
    ErasureReceipt,
    ItemResult,
    KeptRecord,
    LinkAnswer,
    LinkRequest,
    LinkRevoke,
    RectificationNotice,
    RectificationReceipt,
    RedemptionAnswer,
    RedemptionRequest,
    RestrictionNotice,
    RestrictionReceipt,
    SettlementAnswer,
    SettlementStatement,
    StatementEntry,
    TransferAnswer,
    TransferBatch,
    TransferBatchAnswer,
    TransferItem,
    TransferRequest,
    Voucher,
)
from protocol.settlement import build_statement
from protocol.value import conversion_for, convert_points, donation_value
from protocol.vectors.fixtures import (
    VERIFY_AT,
    claims_of,
    header,
    message,
    message_id,
    raw_token,
    subject,
)

CAFE_CUSTOMER = "customer-0001"
BOOKSHOP_CUSTOMER = "kunde-42"
TO_CAFE = subject(CAFE_CUSTOMER, issuer="cafe", partner="bookshop")
TO_BOOKSHOP = subject(BOOKSHOP_CUSTOMER, issuer="bookshop", partner="cafe")
TO_CHARITY = subject("donor-7", issuer="charity", partner="cafe")
MANIFEST_VERSION = 7


def transfer_token(points: int, n: int, kid: str = "cafe:k2", **times: int) -> str:
    c = convert_points(points, from_value=5, to_value=12)
    body = TransferRequest(
        subject=TO_BOOKSHOP,
        sender_points=c.sender_points,
        receiver_points=c.receiver_points,
        value_minor=c.value_minor,
        sender_kept_minor=c.sender_kept_minor,
        manifest_version=MANIFEST_VERSION,
    )
    return message(body, kid=kid, aud="bookshop", n=n, **times)


def _batch() -> TransferBatch:
    items = []
    for item, points in (("a", 100), ("b", 40)):
        c = convert_points(points, from_value=5, to_value=12)
        items.append(
            TransferItem(
                item=item,
                subject=TO_BOOKSHOP,
                sender_points=c.sender_points,
                receiver_points=c.receiver_points,
                value_minor=c.value_minor,
                sender_kept_minor=c.sender_kept_minor,
            )
        )
    return TransferBatch(transfers=items, manifest_version=MANIFEST_VERSION)


def _redemption() -> RedemptionRequest:
    c = conversion_for(800, from_value=5, to_value=12)
    return RedemptionRequest(
        subject=TO_BOOKSHOP,
        reward_id="book-voucher-10",
        sender_points=c.sender_points,
        receiver_points=c.receiver_points,
        value_minor=c.value_minor,
        sender_kept_minor=c.sender_kept_minor,
        manifest_version=MANIFEST_VERSION,
    )


def _statement_entries() -> list[StatementEntry]:
    transfer = convert_points(500, from_value=5, to_value=12)
    item_a = _batch().transfers[0]
    return [
        StatementEntry(
            ref=f"cafe:{message_id(5)}",
            kind="transfer",
            creditor="bookshop",
            value_minor=transfer.value_minor,
        ),
        StatementEntry(
            ref=f"cafe:{message_id(7)}:a",
            kind="transfer",
            creditor="bookshop",
            value_minor=item_a.value_minor,
        ),
        StatementEntry(
            ref=f"cafe:{message_id(9)}",
            kind="redemption",
            creditor="bookshop",
            value_minor=_redemption().value_minor,
        ),
        StatementEntry(
            ref=f"bookshop:{message_id(40)}", kind="transfer", creditor="cafe", value_minor=600
        ),
    ]


def _statement() -> SettlementStatement:
    return build_statement(
        _statement_entries(),
        sender="cafe",
        period_id="2025-12",
        period_start=1_764_547_200,
        period_end=VERIFY_AT,
        currency="EUR",
        manifest_version=MANIFEST_VERSION,
    )


def statement_token() -> str:
    """Cafe's statement of December 2025 to the bookshop."""
    return message(_statement(), kid="cafe:k2", aud="bookshop", n=15)


def _valid_tokens() -> list[tuple[str, str]]:
    net_for_cafe = _statement().net_minor
    voucher = Voucher(
        code="VCH-3F9A-77QK", reward_id="book-voucher-10", valid_until=VERIFY_AT + 7_776_000
    )
    receipt = DonationReceipt(receipt_id="RCPT-2026-0001", value_minor=500, currency="EUR")
    donation = donation_value(100, point_value=5)
    results = [
        ItemResult(item="a", outcome="accepted", reason=None),
        ItemResult(item="b", outcome="rejected", reason="consent_missing"),
    ]

    def cafe(body: Any, n: int, aud: str = "bookshop", **kw: Any) -> str:
        return message(body, kid="cafe:k2", aud=aud, n=n, **kw)

    def bookshop(body: Any, n: int) -> str:
        return message(body, kid="bookshop:k1", aud="cafe", n=n)

    return [
        (
            "link.request",
            bookshop(
                LinkRequest(
                    subject=TO_CAFE, requester_subject=TO_BOOKSHOP, link_code="LINK-7Q2X-9KDM"
                ),
                1,
            ),
        ),
        (
            "link.answer accepted",
            cafe(LinkAnswer(in_reply_to=message_id(1), outcome="accepted", reason=None), 2),
        ),
        ("link.revoke", cafe(LinkRevoke(subject=TO_BOOKSHOP), 3)),
        (
            "link.answer rejected",
            cafe(
                LinkAnswer(
                    in_reply_to=message_id(1), outcome="rejected", reason="invalid_link_code"
                ),
                4,
            ),
        ),
        ("transfer.request", transfer_token(500, 5)),
        (
            "transfer.answer accepted",
            bookshop(TransferAnswer(in_reply_to=message_id(5), outcome="accepted", reason=None), 6),
        ),
        ("transfer.batch", cafe(_batch(), 7)),
        (
            "transfer.batch_answer",
            bookshop(
                TransferBatchAnswer(
                    in_reply_to=message_id(7), outcome="accepted", reason=None, results=results
                ),
                8,
            ),
        ),
        ("redemption.request", cafe(_redemption(), 9)),
        (
            "redemption.answer with voucher",
            bookshop(
                RedemptionAnswer(
                    in_reply_to=message_id(9), outcome="accepted", reason=None, voucher=voucher
                ),
                10,
            ),
        ),
        (
            "donation.request anonymous",
            cafe(
                DonationRequest(
                    subject=None,
                    sender_points=100,
                    value_minor=donation,
                    manifest_version=MANIFEST_VERSION,
                ),
                11,
                aud="charity",
            ),
        ),
        (
            "donation.answer with receipt",
            message(
                DonationAnswer(
                    in_reply_to=message_id(11), outcome="accepted", reason=None, receipt=receipt
                ),
                kid="charity:k1",
                aud="cafe",
                n=12,
            ),
        ),
        ("erasure.notice", cafe(ErasureNotice(subject=TO_BOOKSHOP), 13)),
        (
            "erasure.receipt",
            bookshop(
                ErasureReceipt(
                    in_reply_to=message_id(13),
                    outcome="accepted",
                    reason=None,
                    erased=["link", "pseudonym"],
                    kept=[
                        KeptRecord(
                            category="ledger", exemption="legal_obligation", until=1956528000
                        ),
                        KeptRecord(
                            category="signed_messages", exemption="legal_claims", until=None
                        ),
                    ],
                ),
                14,
            ),
        ),
        ("settlement.statement", statement_token()),
        (
            "settlement.answer agreed",
            bookshop(
                SettlementAnswer(
                    in_reply_to=message_id(15),
                    outcome="agreed",
                    reason=None,
                    net_minor=net_for_cafe,
                    differing=[],
                ),
                16,
            ),
        ),
        (
            "settlement.answer disputed",
            bookshop(
                SettlementAnswer(
                    in_reply_to=message_id(15),
                    outcome="disputed",
                    reason=None,
                    net_minor=net_for_cafe + 600,
                    differing=[f"bookshop:{message_id(40)}"],
                ),
                17,
            ),
        ),
        (
            "transfer.request signed with the retiring key during the overlap",
            transfer_token(120, 18, kid="cafe:k1", iat=VERIFY_AT - 1800, exp=VERIFY_AT + 1800),
        ),
        (
            "transfer.answer rejected as expired",
            bookshop(
                TransferAnswer(in_reply_to=message_id(18), outcome="rejected", reason="expired"), 19
            ),
        ),
        (
            "donation.request from a linked donor",
            cafe(
                DonationRequest(
                    subject=TO_CHARITY,
                    sender_points=40,
                    value_minor=200,
                    manifest_version=MANIFEST_VERSION,
                ),
                20,
                aud="charity",
            ),
        ),
        ("restriction.notice", cafe(RestrictionNotice(subject=TO_BOOKSHOP, restricted=True), 24)),
        (
            "restriction.receipt",
            bookshop(
                RestrictionReceipt(
                    in_reply_to=message_id(24),
                    outcome="accepted",
                    reason=None,
                    restricted=True,
                    stopped=["named_donations", "redemptions", "transfers"],
                ),
                25,
            ),
        ),
        (
            "restriction.notice lifted",
            cafe(RestrictionNotice(subject=TO_BOOKSHOP, restricted=False), 26),
        ),
        ("rectification.notice", cafe(RectificationNotice(subject=TO_BOOKSHOP), 27)),
        (
            "rectification.receipt",
            bookshop(
                RectificationReceipt(
                    in_reply_to=message_id(27), outcome="accepted", reason=None, held=[]
                ),
                28,
            ),
        ),
        (
            "transfer.request issued at the clock-skew limit",
            transfer_token(60, 21, iat=VERIFY_AT + 60, exp=VERIFY_AT + 3660),
        ),
        (
            "transfer.request one second before exp",
            transfer_token(60, 22, iat=VERIFY_AT - 3599, exp=VERIFY_AT + 1),
        ),
    ]


def _non_canonical_tokens() -> list[tuple[str, str]]:
    """Signed over JSON that is valid but not canonical: receivers accept these."""
    claims = claims_of(transfer_token(500, 23))
    spaced_header = b'{"alg": "Ed25519", "kid": "cafe:k2", "typ": "konsort+jwt"}'
    loose_payload = json.dumps(dict(reversed(claims.items())), indent=1).encode()
    escaped_payload = canonical_json(claims).replace(b'"bookshop"', b'"\\u0062ookshop"')
    return [
        ("header with whitespace", raw_token(spaced_header, claims, "cafe:k2")),
        ("payload indented, keys unsorted", raw_token(header("cafe:k2"), loose_payload, "cafe:k2")),
        (
            "payload with a needless escape",
            raw_token(header("cafe:k2"), escaped_payload, "cafe:k2"),
        ),
    ]


def valid_message_vectors() -> list[dict[str, Any]]:
    """Valid messages; ``canonical`` ones are exactly what a conforming signer
    produces for their claims (re-signing them gives the same bytes)."""
    vectors = []
    for canonical, tokens in ((True, _valid_tokens()), (False, _non_canonical_tokens())):
        for name, token in tokens:
            claims = claims_of(token)
            vectors.append(
                {
                    "name": name,
                    "token": token,
                    "receiver": claims["aud"],
                    "claims": claims,
                    "canonical": canonical,
                }
            )
    return vectors
