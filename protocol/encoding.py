"""Canonical JSON and base64url, the two encodings every token is made of.

Canonical JSON (what a sender signs, so that tokens are reproducible):

* UTF-8, no byte order mark;
* no whitespace: separators are ``,`` and ``:`` only;
* object member names sorted by Unicode code point, each name unique;
* strings escape only ``"`` and ``\\`` and the control characters U+0000 to
  U+001F (as ``\\b \\t \\n \\f \\r`` where those exist, else ``\\u00xx`` in
  lower-case hex); every other character, including non-ASCII, is written as
  itself in UTF-8;
* numbers are integers only, in decimal without ``+``, leading zeros, fraction
  or exponent; no NaN or Infinity;
* ``true``, ``false`` and ``null`` as usual.

This is exactly what Python's ``json.dumps(obj, sort_keys=True,
separators=(",", ":"), ensure_ascii=False)`` produces for such values.

Receivers parse with :func:`parse_json`, which refuses what could make two
parsers disagree (duplicate member names, invalid UTF-8, floats, NaN and
Infinity) but does not insist on canonical form: whitespace or key order do not
change what was signed, and re-encoding every payload to compare would cost as
much again as parsing it.

base64url is RFC 4648 section 5 without padding (as JWS requires); the last
character must carry zero unused bits, so each byte string has exactly one
encoding.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_SEXTET = {char: value for value, char in enumerate(_ALPHABET)}
_UNUSED_BITS = {2: 0b1111, 3: 0b11}  # low bits of the last character that carry no data
_PADDING = {0: b"", 2: b"==", 3: b"="}
_TO_STANDARD = bytes.maketrans(b"-_", b"+/")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def _refuse_float(text: str) -> Any:
    raise ValueError("only integers are allowed")


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members = dict(pairs)
    if len(members) != len(pairs):
        raise ValueError("duplicate member name")
    return members


# Built once: json.dumps and json.loads with options build a new coder per call.
_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)
_DECODER = json.JSONDecoder(
    object_pairs_hook=_unique_members,
    parse_constant=_refuse_constant,
    parse_float=_refuse_float,
)


def canonical_json(value: Any) -> bytes:
    """Encode ``value`` as canonical JSON bytes (see the module docstring)."""
    return _ENCODER.encode(value).encode("utf-8")


def parse_json(data: bytes) -> Any:
    """Parse UTF-8 JSON: no duplicate names, no floats, NaN or Infinity.

    Raises ValueError (UnicodeDecodeError and JSONDecodeError are ValueErrors).
    """
    try:
        return _DECODER.decode(data.decode("utf-8"))
    except RecursionError as exc:
        raise ValueError("JSON nested too deeply") from exc


def b64url_encode(data: bytes) -> str:
    """base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Strict inverse of :func:`b64url_encode`; ValueError on any other input."""
    if _B64URL.fullmatch(text) is None:
        raise ValueError("not unpadded base64url")
    tail = len(text) % 4
    if tail == 1:
        raise ValueError("not unpadded base64url")
    if tail and _SEXTET[text[-1]] & _UNUSED_BITS[tail]:
        raise ValueError("non-canonical base64url (unused bits set)")
    return binascii.a2b_base64(text.encode("ascii").translate(_TO_STANDARD) + _PADDING[tail])
