"""docs/protocol.md stays true: its examples validate, and it names every
message type and every error code."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path
from typing import Any

import protocol.errors as errors_module
from protocol import MESSAGE_TYPES, ProtocolError, canonical_json
from protocol.vectors.valid import valid_message_vectors

DOC = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text(encoding="utf-8")


def sections() -> dict[str, list[Any]]:
    """JSON examples under each ``### `typ` `` heading."""
    found: dict[str, list[Any]] = {}
    current = None
    for block in re.split(r"^(### .*)$", DOC, flags=re.MULTILINE):
        heading = re.fullmatch(r"### `([a-z._]+)`", block.strip())
        if heading:
            current = heading.group(1)
            found[current] = []
        elif current is not None:
            for example in re.findall(r"```json\n(.*?)```", block, flags=re.DOTALL):
                found[current].append(json.loads(example))
    return found


def test_every_message_type_has_a_section_with_a_valid_example() -> None:
    found = sections()
    assert set(found) == set(MESSAGE_TYPES)
    for typ, examples in found.items():
        assert examples, typ
        for example in examples:
            MESSAGE_TYPES[typ].model_validate(example)


def test_examples_are_the_vector_bodies() -> None:
    bodies = {canonical_json(v["claims"]["body"]) for v in valid_message_vectors()}
    for typ, examples in sections().items():
        for example in examples:
            assert canonical_json(example) in bodies, typ


def test_the_envelope_example_is_a_vector() -> None:
    vector = next(v for v in valid_message_vectors() if v["name"] == "transfer.request")
    assert vector["token"] in DOC
    pretty = json.dumps(vector["claims"], indent=2, sort_keys=True)
    assert pretty in DOC


def test_every_error_code_is_documented() -> None:
    for obj in vars(errors_module).values():
        if inspect.isclass(obj) and issubclass(obj, ProtocolError):
            if obj.code not in {"protocol_error", "verification_failed", "manifest_error"}:
                assert f"`{obj.code}`" in DOC, obj.code


def test_the_check_order_lists_every_verification_code() -> None:
    section = DOC.split("## Verification", 1)[1].split("### Error codes", 1)[0]
    step = re.compile(r"^\d+\. \*\*.*?(?=^\d+\. |\n\n|\Z)", flags=re.MULTILINE | re.DOTALL)
    steps = step.findall(section)
    assert len(steps) == 19
    codes = [re.findall(r"`([a-z_]+)`", step)[-1] for step in steps]
    assert codes == [
        "token_too_large",
        "malformed",
        "alg_not_allowed",
        "malformed",
        "unknown_issuer",
        "unknown_key",
        "bad_signature",
        "malformed",
        "unsupported_version",
        "malformed",
        "unknown_key",
        "key_revoked",
        "key_not_valid",
        "member_suspended",
        "wrong_audience",
        "unknown_message_type",
        "invalid_body",
        "not_yet_valid",
        "expired",
    ]
