"""Opaque public identifiers: a type prefix and 128 random bits in hex."""

from __future__ import annotations

import secrets


def new_id(prefix: str) -> str:
    # Hex, not base32: base64.b32encode is pure Python and cost ~20 µs per id.
    return f"{prefix}_{secrets.token_hex(16)}"
