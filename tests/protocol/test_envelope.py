"""sign_message / verify_message: round trips, the order of the checks, the
time window, and the guards on signing."""

from __future__ import annotations

import inspect
import json
from typing import Any

import pytest

import protocol.errors as errors_module
from protocol import (
    MAX_CLOCK_SKEW,
    MAX_TOKEN_BYTES,
    Expired,
    ProtocolError,
    SettlementStatement,
    StatementEntry,
    VerificationError,
    b64url_decode,
    canonical_json,
    sign_manifest,
    sign_message,
    verify_manifest,
)
from protocol.errors import VERIFICATION_ERRORS
from protocol.vectors.fixtures import (
    ISSUED,
    STEWARD_KID,
    header,
    manifest,
    message_id,
    raw_token,
    signer,
    variant,
)
from tests.protocol.factories import NOW, make_token, make_transfer_body, verify


def code_of(token: str | bytes, **kwargs: object) -> str:
    with pytest.raises(VerificationError) as caught:
        verify(token, **kwargs)  # type: ignore[arg-type]
    return caught.value.code


def claims(token: str) -> dict[str, object]:
    loaded: dict[str, object] = json.loads(b64url_decode(token.split(".")[1]))
    return loaded


def resign(token: str, kid: str = "cafe:k2", **changes: object) -> str:
    return raw_token(header(kid), variant(claims(token), **changes), kid)


def test_round_trip() -> None:
    body = make_transfer_body()
    token = make_token(body)
    message = verify(token)
    assert message.body == body
    assert (message.issuer, message.audience, message.message_type) == (
        "cafe",
        "bookshop",
        "transfer.request",
    )
    assert message.replay_key == ("cafe", message_id(100))
    assert message.kid == "cafe:k2"
    assert canonical_json(message.claims()) == b64url_decode(token.split(".")[1])


def test_bytes_tokens_are_accepted() -> None:
    token = make_token()
    assert verify(token.encode("ascii")) == verify(token)


def test_header_is_exactly_alg_kid_typ() -> None:
    token = make_token()
    assert b64url_decode(token.split(".")[0]) == (
        b'{"alg":"Ed25519","kid":"cafe:k2","typ":"konsort+jwt"}'
    )


@pytest.mark.parametrize("value", [None, 12, ["a.b.c"], object()])
def test_non_tokens_are_malformed(value: object) -> None:
    assert code_of(value) == "malformed"  # type: ignore[arg-type]


def test_size_limit_comes_first_for_str_and_bytes() -> None:
    oversize = "é" * (MAX_TOKEN_BYTES + 1)  # would also be malformed
    assert code_of(oversize) == "token_too_large"
    assert code_of(oversize.encode()) == "token_too_large"
    assert code_of("a" * MAX_TOKEN_BYTES) == "malformed"


def test_expired_carries_the_authenticated_message() -> None:
    token = make_token(issued_at=NOW - 3600, expires_at=NOW)
    with pytest.raises(Expired) as caught:
        verify(token)
    assert caught.value.verified == verify(token, now=NOW - 1)
    assert caught.value.verified.replay_key == ("cafe", message_id(100))


def test_clock_window_boundaries() -> None:
    ahead = make_token(issued_at=NOW + MAX_CLOCK_SKEW, expires_at=NOW + 3600)
    assert verify(ahead).issued_at == NOW + MAX_CLOCK_SKEW
    too_far = make_token(issued_at=NOW + MAX_CLOCK_SKEW + 1, expires_at=NOW + 3600)
    assert code_of(too_far) == "not_yet_valid"
    last_second = make_token(issued_at=NOW - 10, expires_at=NOW + 1)
    assert verify(last_second).expires_at == NOW + 1
    assert code_of(last_second, now=NOW + 1) == "expired"


# -- the order of the checks: when two things are wrong, the earlier check wins --


def test_alg_is_checked_before_the_key_is_looked_up() -> None:
    token = raw_token(header("nobody:k1", alg="none"), claims(make_token()), "cafe:k2")
    assert code_of(token) == "alg_not_allowed"


def test_alg_is_checked_before_the_header_shape() -> None:
    token = raw_token({"alg": "HS256", "jku": "https://evil.example"}, b"{}", "cafe:k2")
    assert code_of(token) == "alg_not_allowed"


def test_key_lookup_comes_before_the_signature() -> None:
    forged = raw_token(header("cafe:k9"), claims(make_token()), "bookshop:k1")
    assert code_of(forged) == "unknown_key"


def test_signature_comes_before_the_payload() -> None:
    token = raw_token(header("cafe:k2"), b"not json", "bookshop:k1")
    assert code_of(token) == "bad_signature"
    assert code_of(raw_token(header("cafe:k2"), b"not json", "cafe:k2")) == "malformed"


def test_version_comes_before_the_claim_shape() -> None:
    assert code_of(raw_token(header("cafe:k2"), {"v": 2}, "cafe:k2")) == "unsupported_version"
    assert code_of(raw_token(header("cafe:k2"), {"v": 1}, "cafe:k2")) == "malformed"


def test_revocation_comes_before_validity_and_suspension() -> None:
    token = make_token(kid="bookshop:k0", audience="cafe", issued_at=ISSUED)
    assert code_of(token, receiver="cafe") == "key_revoked"


def test_key_validity_comes_before_the_audience() -> None:
    token = make_token(kid="cafe:k3")
    assert code_of(token, receiver="charity") == "key_not_valid"


def test_suspension_comes_before_the_audience() -> None:
    token = make_token(kid="bikeshop:k1")
    token = resign(token, "bikeshop:k1", iss="bikeshop")
    assert code_of(token, receiver="charity") == "member_suspended"


def test_audience_comes_before_type_body_and_time() -> None:
    token = resign(make_token(), typ="nope", body={}, exp=NOW)
    assert code_of(token, receiver="charity") == "wrong_audience"


def test_body_comes_before_time() -> None:
    token = resign(make_token(), body={"subject": "x"}, iat=NOW - 7200, exp=NOW - 3600)
    assert code_of(token) == "invalid_body"


def test_issuer_must_own_the_key_even_if_the_signature_is_good() -> None:
    token = resign(make_token(), iss="bookshop", aud="cafe")
    assert code_of(token, receiver="cafe") == "unknown_key"


def test_a_manifest_is_not_a_message_and_vice_versa() -> None:
    manifest_token = sign_manifest(manifest(), steward=signer(STEWARD_KID))
    assert code_of(manifest_token) == "malformed"
    with pytest.raises(VerificationError) as caught:
        verify_manifest(make_token(), steward_keys=[signer("cafe:k2").public_jwk()])
    assert caught.value.code == "malformed"


# -- signing guards ------------------------------------------------------------


def test_sign_message_refuses_bad_arguments() -> None:
    body = make_transfer_body()
    good: dict[str, Any] = {
        "signer": signer("cafe:k2"),
        "audience": "bookshop",
        "message_id": message_id(1),
        "issued_at": NOW,
        "expires_at": NOW + 60,
    }
    changes: list[dict[str, Any]] = [
        {"message_id": "short"},
        {"message_id": "has space in it 123"},
        {"audience": "Bookshop"},
        {"audience": "cafe"},
        {"expires_at": NOW},
        {"issued_at": -1},
        {"expires_at": NOW + 7 * 86_400 + 1},
    ]
    for change in changes:
        with pytest.raises(ValueError):
            sign_message(body, **{**good, **change})
    with pytest.raises(TypeError):
        sign_message(make_transfer_body().model_dump(), **good)  # type: ignore[arg-type]


def _statement(entries: list[StatementEntry]) -> SettlementStatement:
    net = sum(e.value_minor if e.creditor == "cafe" else -e.value_minor for e in entries)
    return SettlementStatement(
        period_id="p",
        period_start=0,
        period_end=1,
        currency="EUR",
        manifest_version=7,
        entries=entries,
        net_minor=net,
    )


def test_sign_message_checks_rules_that_involve_the_claims() -> None:
    entry = StatementEntry(
        ref=f"cafe:{message_id(1)}", kind="transfer", creditor="charity", value_minor=1
    )
    with pytest.raises(ValueError, match="creditor"):
        make_token(_statement([entry]))


def test_sign_message_refuses_a_token_over_the_size_limit() -> None:
    entries = [
        StatementEntry(
            ref=f"cafe:{'x' * 60}{i:04d}:{'i' * 32}",
            kind="redemption",
            creditor="bookshop",
            value_minor=10**12,
        )
        for i in range(400)
    ]
    with pytest.raises(ValueError, match="exceeds"):
        make_token(_statement(entries))


# -- the error hierarchy -----------------------------------------------------------


def test_error_codes_are_unique_and_stable() -> None:
    classes = [
        obj
        for obj in vars(errors_module).values()
        if inspect.isclass(obj) and issubclass(obj, ProtocolError)
    ]
    codes = [cls.code for cls in classes]
    assert len(codes) == len(set(codes))
    assert {cls.code for cls in VERIFICATION_ERRORS} == {
        "malformed",
        "token_too_large",
        "alg_not_allowed",
        "unknown_issuer",
        "unknown_key",
        "bad_signature",
        "unsupported_version",
        "key_revoked",
        "key_not_valid",
        "member_suspended",
        "wrong_audience",
        "unknown_message_type",
        "invalid_body",
        "not_yet_valid",
        "expired",
    }


def test_the_hierarchy_in_the_docstring_names_every_error() -> None:
    doc = errors_module.__doc__ or ""
    for obj in vars(errors_module).values():
        if inspect.isclass(obj) and issubclass(obj, ProtocolError):
            assert obj.__name__ in doc
            if obj.code not in {"protocol_error", "verification_failed", "manifest_error"}:
                assert obj.code in doc


def test_error_repr_shows_code_and_detail() -> None:
    with pytest.raises(VerificationError) as caught:
        verify("x.y.z")
    assert "malformed" in repr(caught.value)
    assert caught.value.detail
