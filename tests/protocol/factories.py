"""Factories for protocol tests, built on the fixed test consortium of
protocol.vectors.fixtures (cafe, bookshop, charity and a suspended bikeshop)."""

from __future__ import annotations

from typing import Any

from protocol import Manifest, Message, TransferRequest, sign_message, verify_message
from protocol.vectors.fixtures import EXPIRES, ISSUED, VERIFY_AT, manifest, message_id, signer
from protocol.vectors.valid import TO_BOOKSHOP

NOW = VERIFY_AT


def make_transfer_body(**overrides: Any) -> TransferRequest:
    """cafe -> bookshop, 500 cafe points (value 5) as 208 bookshop points (value 12)."""
    fields: dict[str, Any] = {
        "subject": TO_BOOKSHOP,
        "sender_points": 500,
        "receiver_points": 208,
        "value_minor": 2496,
        "sender_kept_minor": 4,
        "manifest_version": 7,
    }
    fields.update(overrides)
    return TransferRequest(**fields)


def make_token(
    body: Any = None,
    *,
    kid: str = "cafe:k2",
    audience: str = "bookshop",
    n: int = 100,
    issued_at: int = ISSUED,
    expires_at: int = EXPIRES,
) -> str:
    return sign_message(
        make_transfer_body() if body is None else body,
        signer=signer(kid),
        audience=audience,
        message_id=message_id(n),
        issued_at=issued_at,
        expires_at=expires_at,
    )


def verify(
    token: str | bytes,
    *,
    receiver: str = "bookshop",
    now: int = NOW,
    the_manifest: Manifest | None = None,
) -> Message:
    return verify_message(
        token,
        manifest=manifest() if the_manifest is None else the_manifest,
        receiver=receiver,
        now=now,
    )
