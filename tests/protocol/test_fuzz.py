"""Fuzzing the decoders: whatever comes in, only the library's own errors come out."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import (
    MESSAGE_TYPES,
    Manifest,
    ManifestError,
    Message,
    VerificationError,
    canonical_json,
    verify_manifest,
    verify_message,
)
from protocol.vectors.fixtures import STEWARD_KID, VERIFY_AT, header, manifest, raw_token, signer
from protocol.vectors.valid import valid_message_vectors

MANIFEST: Manifest = manifest()
STEWARD = signer(STEWARD_KID).public_jwk()
VALID = [v for v in valid_message_vectors() if v["canonical"]]
RECEIVERS = st.sampled_from(["cafe", "bookshop", "charity", "bikeshop", "nobody"])
TOKEN_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ é\x00"

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**64), max_value=2**64)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


def try_verify(token: Any, receiver: str = "bookshop", now: int = VERIFY_AT) -> Message | None:
    try:
        return verify_message(token, manifest=MANIFEST, receiver=receiver, now=now)
    except VerificationError:
        return None


@given(st.text(max_size=300))
def test_arbitrary_text(token: str) -> None:
    assert try_verify(token) is None


@given(st.binary(max_size=300))
def test_arbitrary_bytes(token: bytes) -> None:
    assert try_verify(token) is None


@given(st.lists(st.text(alphabet=TOKEN_CHARS, max_size=60), min_size=1, max_size=5))
def test_dotted_segments(segments: list[str]) -> None:
    assert try_verify(".".join(segments)) is None


@st.composite
def mutated_tokens(draw: st.DrawFn) -> tuple[str, str, dict[str, Any]]:
    vector = draw(st.sampled_from(VALID))
    token: str = vector["token"]
    kind = draw(st.sampled_from(["replace", "delete", "insert", "swap", "truncate", "dup"]))
    i = draw(st.integers(min_value=0, max_value=len(token) - 1))
    if kind == "replace":
        mutated = token[:i] + draw(st.sampled_from(TOKEN_CHARS)) + token[i + 1 :]
    elif kind == "delete":
        j = draw(st.integers(min_value=i + 1, max_value=len(token)))
        mutated = token[:i] + token[j:]
    elif kind == "insert":
        mutated = (
            token[:i] + draw(st.text(alphabet=TOKEN_CHARS, min_size=1, max_size=8)) + token[i:]
        )
    elif kind == "swap":
        parts = token.split(".")
        a, b = draw(st.permutations(range(3)))[:2]
        parts[a], parts[b] = parts[b], parts[a]
        mutated = ".".join(parts)
    elif kind == "truncate":
        mutated = token[:i]
    else:
        mutated = token + token[i:]
    return token, mutated, vector


@settings(max_examples=400)
@given(mutated_tokens())
def test_mutated_valid_tokens(case: tuple[str, str, dict[str, Any]]) -> None:
    original, mutated, vector = case
    message = try_verify(mutated, receiver=vector["receiver"])
    if message is not None:
        # Any change to the signed bytes or the signature must be refused.
        assert mutated == original
        assert message.claims() == vector["claims"]


@settings(max_examples=300)
@given(payload=json_values)
def test_correctly_signed_arbitrary_payloads(payload: Any) -> None:
    assert try_verify(raw_token(header("cafe:k2"), {"v": 1, "x": payload}, "cafe:k2")) is None
    try_verify(raw_token(header("cafe:k2"), json.dumps(payload).encode(), "cafe:k2"))


@st.composite
def claim_sets(draw: st.DrawFn) -> dict[str, Any]:
    """Mostly well-shaped claims whose values are drawn adversarially."""
    vector = draw(st.sampled_from(VALID))
    claims: dict[str, Any] = dict(vector["claims"])
    for name in draw(st.sets(st.sampled_from(sorted(claims)), max_size=3)):
        claims[name] = draw(
            json_values
            | st.sampled_from(list(MESSAGE_TYPES))
            | st.integers(min_value=VERIFY_AT - 10**6, max_value=VERIFY_AT + 10**6)
        )
    body = claims["body"]
    if isinstance(body, dict) and body and draw(st.booleans()):
        field = draw(st.sampled_from(sorted(body)))
        body = {**body, field: draw(json_values)}
        claims["body"] = body
    return claims


@settings(max_examples=400)
@given(claims=claim_sets(), receiver=RECEIVERS)
def test_correctly_signed_adversarial_claims(claims: dict[str, Any], receiver: str) -> None:
    kid = "cafe:k2" if claims.get("iss") != "bookshop" else "bookshop:k1"
    message = try_verify(raw_token(header(kid), claims, kid), receiver=receiver)
    if message is not None:
        assert message.claims() == claims


@settings(max_examples=200)
@given(extra=st.dictionaries(st.text(max_size=6), json_values, max_size=3), alg=json_values)
def test_arbitrary_headers(extra: dict[str, Any], alg: Any) -> None:
    token = raw_token({**header("cafe:k2"), **extra, "alg": alg}, VALID[4]["claims"], "cafe:k2")
    try_verify(token)


@given(st.text(max_size=200) | st.binary(max_size=200))
def test_manifest_decoder_arbitrary_input(token: str | bytes) -> None:
    try:
        verify_manifest(token, steward_keys=[STEWARD])
    except VerificationError:
        pass


@settings(max_examples=200)
@given(payload=json_values, wrap=st.booleans())
def test_manifest_decoder_signed_arbitrary_payloads(payload: Any, wrap: bool) -> None:
    head = header(STEWARD_KID, typ="konsort-manifest+jwt")
    body = {**manifest().claims(), "members": payload} if wrap else payload
    try:
        verify_manifest(raw_token(head, canonical_json(body), STEWARD_KID), steward_keys=[STEWARD])
    except (VerificationError, ManifestError):
        pass


def test_signed_claims_reach_the_late_checks() -> None:
    """The adversarial-claims strategy starts from claims that verify, so its
    examples get past the signature to the claim and body checks."""
    claims = dict(VALID[4]["claims"])
    assert try_verify(raw_token(header("cafe:k2"), claims, "cafe:k2")) is not None
    claims["body"] = {"subject": 1}
    with pytest.raises(VerificationError) as caught:
        verify_message(
            raw_token(header("cafe:k2"), claims, "cafe:k2"),
            manifest=MANIFEST,
            receiver="bookshop",
            now=VERIFY_AT,
        )
    assert caught.value.code == "invalid_body"
