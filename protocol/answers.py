"""Answers: building, signing and matching the signed reply to a request.

Every request type has exactly one answer type (``Request.answer_type``); the
answer names the request's ``jti`` in ``in_reply_to`` and goes back to the
request's issuer. A receiver stores its answer under the request's replay key
and serves it again for every repeat; once that token has expired it signs the
same body again under a new ``jti`` (the sender matches answers by
``in_reply_to``, never by the answer's own id).
"""

from __future__ import annotations

from typing import Any

from protocol.envelope import Message, sign_message
from protocol.keys import SigningKey
from protocol.messages import (
    Answer,
    RejectReason,
    Request,
    TransferBatch,
    TransferBatchAnswer,
)


def _request_body(request: Message) -> Request:
    if not isinstance(request.body, Request):
        raise TypeError(f"{request.message_type} is not a request")
    return request.body


def accept(request: Message, **fields: Any) -> Answer:
    """The accepting answer to ``request``; ``fields`` are the type's extras
    (``voucher=``, ``receipt=``, ``erased=``, ``results=``...)."""
    answer_type = _request_body(request).answer_type
    return answer_type.model_validate(
        {"in_reply_to": request.message_id, "outcome": "accepted", "reason": None, **fields}
    )


def reject(request: Message, reason: RejectReason) -> Answer:
    """The rejecting answer to ``request`` (for a batch: every item)."""
    return _request_body(request).answer_type.rejection(request.message_id, reason)


def answer_matches(answer: Answer, *, request_id: str, request: Request) -> bool:
    """Whether ``answer`` is a well-formed answer to ``request`` sent as ``request_id``:
    the right type, the right ``in_reply_to`` and, for a batch, one result per
    item in the request's order."""
    if type(answer) is not request.answer_type or answer.in_reply_to != request_id:
        return False
    if isinstance(request, TransferBatch) and isinstance(answer, TransferBatchAnswer):
        items = [t.item for t in request.transfers]
        return answer.outcome == "rejected" or [r.item for r in answer.results] == items
    return True


def sign_answer(
    request: Message,
    answer: Answer,
    *,
    signer: SigningKey,
    message_id: str,
    issued_at: int,
    expires_at: int,
) -> str:
    """Sign ``answer`` to ``request`` back to its issuer."""
    if signer.node_id != request.audience:
        raise ValueError("only the request's audience answers it")
    if not answer_matches(answer, request_id=request.message_id, request=_request_body(request)):
        raise ValueError(f"not an answer to {request.message_type} {request.message_id}")
    return sign_message(
        answer,
        signer=signer,
        audience=request.issuer,
        message_id=message_id,
        issued_at=issued_at,
        expires_at=expires_at,
    )
