"""Known-answer test vectors, published as docs/protocol-vectors.json.

:func:`generate_vectors` is pure and deterministic (fixed seeds, times and
ids; Ed25519 signatures are deterministic), so every run returns the same
dict. ``python -m protocol.vectors [PATH]`` writes :func:`render` of it to
PATH, by default docs/protocol-vectors.json. tests/protocol checks that the
file matches byte for byte and that the library agrees with every vector.

Each invalid vector differs from a valid message in the one respect it tests
and is otherwise correctly signed, so it pins down one check of the order.
"""

from __future__ import annotations

import json
from typing import Any

from protocol.encoding import canonical_json
from protocol.errors import ConversionError
from protocol.manifest import sign_manifest
from protocol.value import Conversion, conversion_for, convert_points, donation_value
from protocol.vectors.fixtures import (
    NODE_KIDS,
    OUTSIDE_KIDS,
    STEWARD_KID,
    VERIFY_AT,
    manifest,
    pseudonym_secret,
    seed,
    signer,
    subject,
)
from protocol.vectors.invalid import invalid_message_vectors, manifest_update_vectors
from protocol.vectors.valid import valid_message_vectors

__all__ = ["generate_vectors", "render"]


def _conversion(c: Conversion) -> dict[str, int]:
    return {
        "sender_points": c.sender_points,
        "receiver_points": c.receiver_points,
        "value_minor": c.value_minor,
        "sender_kept_minor": c.sender_kept_minor,
    }


def _conversions() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    for points, a, b in [
        (500, 5, 12),
        (501, 5, 10),
        (7, 12, 5),
        (1, 7, 3),
        (999, 13, 17),
        (2, 5, 12),
    ]:
        case: dict[str, Any] = {
            "rule": "convert_points",
            "points": points,
            "from_value": a,
            "to_value": b,
        }
        try:
            case["expected"] = _conversion(convert_points(points, from_value=a, to_value=b))
        except ConversionError as exc:
            case["error"] = exc.code
        cases.append(case)
    for wanted, a, b in [(800, 5, 12), (5, 10, 3), (1, 12, 5), (250, 5, 10)]:
        c = conversion_for(wanted, from_value=a, to_value=b)
        cases.append(
            {
                "rule": "conversion_for",
                "receiver_points": wanted,
                "from_value": a,
                "to_value": b,
                "expected": _conversion(c),
            }
        )
    cases.append(
        {
            "rule": "donation_value",
            "points": 100,
            "point_value": 5,
            "expected": donation_value(100, point_value=5),
        }
    )
    return cases


def _pseudonyms() -> list[dict[str, str]]:
    cases = [
        ("cafe", "customer-0001", "bookshop"),
        ("cafe", "customer-0001", "charity"),
        ("cafe", "customer-0002", "bookshop"),
        ("bookshop", "kunde-42", "cafe"),
    ]
    return [
        {
            "secret_hex": pseudonym_secret(node).hex(),
            "customer": customer,
            "partner": partner,
            "pseudonym": subject(customer, issuer=node, partner=partner),
        }
        for node, customer, partner in cases
    ]


def _canonical_json() -> list[dict[str, Any]]:
    values: list[Any] = [
        {"b": 1, "a": [True, False, None], "é": "ø", "A": -5},
        {"s": 'quote " backslash \\ tab \t newline \n bell \x07 del \x7f'},
        {"z": {"y": {}, "x": []}, "n": 9007199254740991},
    ]
    return [{"value": v, "encoded": canonical_json(v).decode("utf-8")} for v in values]


def generate_vectors() -> dict[str, Any]:
    """Every vector, as the dict that docs/protocol-vectors.json holds."""
    the_manifest = manifest()
    steward = signer(STEWARD_KID)
    return {
        "about": (
            "Konsort protocol v1 known-answer vectors, see docs/protocol.md. Verify the "
            "manifest token with steward_jwk, then every message for its receiver at "
            "verify_at. The seeds are public test data."
        ),
        "generator": "python -m protocol.vectors",
        "verify_at": VERIFY_AT,
        "seeds_hex": {kid: seed(kid).hex() for kid in (STEWARD_KID, *NODE_KIDS, *OUTSIDE_KIDS)},
        "steward_jwk": steward.public_jwk().to_dict(),
        "jwks": {kid: signer(kid).public_jwk().to_dict() for kid in (*NODE_KIDS, *OUTSIDE_KIDS)},
        "manifest": {
            "token": sign_manifest(the_manifest, steward=steward),
            "claims": the_manifest.claims(),
        },
        "manifest_updates": manifest_update_vectors(the_manifest, steward),
        "valid_messages": valid_message_vectors(),
        "invalid_messages": invalid_message_vectors(),
        "conversions": _conversions(),
        "pseudonyms": _pseudonyms(),
        "canonical_json": _canonical_json(),
    }


def render(vectors: dict[str, Any]) -> str:
    """The exact text of docs/protocol-vectors.json."""
    return json.dumps(vectors, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
