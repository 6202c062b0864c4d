"""Pairwise pseudonyms: how a customer is named to one partner node.

``pairwise_pseudonym(secret, customer=c, partner=p)`` is
``BASE64URL(HMAC-SHA256(secret, M))`` (43 characters, no padding) with

    M = "konsort/pairwise/v1" || LP(c) || LP(p)

where ``LP(s)`` is the 4-byte big-endian length of the UTF-8 bytes of ``s``
followed by those bytes, ``secret`` is the node's pseudonym secret (at least
32 random bytes, never shared), ``c`` the node's own opaque customer id (never
sent anywhere) and ``p`` the partner's node id. Like OpenID Connect pairwise
subject identifiers: stable for one (customer, partner) pair, and two partners
cannot tell from their pseudonyms that they know the same customer.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from protocol.encoding import b64url_encode
from protocol.keys import NODE_ID_PATTERN

PSEUDONYM_CONTEXT = b"konsort/pairwise/v1"
MIN_SECRET_BYTES = 32
_NODE_ID = re.compile(NODE_ID_PATTERN)


def _length_prefixed(text: str) -> bytes:
    data = text.encode("utf-8")
    return len(data).to_bytes(4, "big") + data


def pairwise_pseudonym(secret: bytes, *, customer: str, partner: str) -> str:
    """The pseudonym of local customer ``customer`` towards node ``partner``."""
    if len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"the pseudonym secret must be at least {MIN_SECRET_BYTES} bytes")
    if not customer:
        raise ValueError("customer id is empty")
    if _NODE_ID.fullmatch(partner) is None:
        raise ValueError(f"invalid partner node id {partner!r}")
    message = PSEUDONYM_CONTEXT + _length_prefixed(customer) + _length_prefixed(partner)
    return b64url_encode(hmac.new(secret, message, hashlib.sha256).digest())
