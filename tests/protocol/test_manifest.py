"""The consortium manifest: signing, version rules, key rotation, revocation and
suspension."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from protocol import (
    InvalidManifest,
    Manifest,
    ManifestConflict,
    ManifestStale,
    Member,
    MemberKey,
    VerificationError,
    WrongConsortium,
    generate_private_key,
    public_jwk,
    revoke_key,
    rotate_key,
    set_member_status,
    sign_manifest,
    sign_message,
    update_manifest,
    verify_manifest,
    with_member,
)
from protocol.encoding import canonical_json
from protocol.jws import MANIFEST_JWT_TYPE, sign_payload
from protocol.keys import SigningKey
from protocol.vectors.fixtures import STEWARD_KID, manifest, signer
from tests.protocol.factories import NOW, make_token, make_transfer_body, verify

STEWARD = signer(STEWARD_KID)


def edited(**changes: Any) -> Manifest:
    return Manifest.model_validate({**manifest().model_dump(), **changes})


def code_of(token: str, the_manifest: Manifest, **kwargs: Any) -> str:
    with pytest.raises(VerificationError) as caught:
        verify(token, the_manifest=the_manifest, **kwargs)
    return caught.value.code


# -- signing and verifying ---------------------------------------------------------


def test_round_trip() -> None:
    token = sign_manifest(manifest(), steward=STEWARD)
    verified = verify_manifest(token, steward_keys=[STEWARD.public_jwk()])
    assert verified.encoded() == manifest().encoded()
    assert verified.member("cafe") == manifest().member("cafe")


def test_any_pinned_steward_key_verifies() -> None:
    next_steward = SigningKey("steward:2027", generate_private_key())
    token = sign_manifest(manifest(), steward=next_steward)
    pinned = [STEWARD.public_jwk(), next_steward.public_jwk()]
    assert verify_manifest(token, steward_keys=pinned).version == 7
    with pytest.raises(VerificationError) as caught:
        verify_manifest(token, steward_keys=[STEWARD.public_jwk()])
    assert caught.value.code == "unknown_key"


def test_a_node_key_cannot_sign_a_manifest() -> None:
    token = sign_manifest(manifest(), steward=signer("cafe:k2"))
    with pytest.raises(VerificationError):
        verify_manifest(token, steward_keys=[STEWARD.public_jwk()])


def test_a_pinned_kid_with_another_key_is_a_bad_signature() -> None:
    impostor = SigningKey(STEWARD_KID, generate_private_key())
    token = sign_manifest(manifest(), steward=impostor)
    with pytest.raises(VerificationError) as caught:
        verify_manifest(token, steward_keys=[STEWARD.public_jwk()])
    assert caught.value.code == "bad_signature"


# -- version rules -----------------------------------------------------------------


def test_first_manifest_is_taken() -> None:
    assert update_manifest(None, manifest()) is not None


def test_newer_version_replaces() -> None:
    newer = edited(version=8, issued_at=NOW)
    assert update_manifest(manifest(), newer) is newer


def test_same_version_same_content_keeps_the_current_one() -> None:
    current = manifest()
    assert update_manifest(current, manifest()) is current


def test_same_version_other_content_is_refused() -> None:
    with pytest.raises(ManifestConflict) as caught:
        update_manifest(manifest(), edited(issued_at=NOW))
    assert caught.value.code == "manifest_conflict"


def test_older_version_is_refused_even_with_the_same_members() -> None:
    with pytest.raises(ManifestStale) as caught:
        update_manifest(manifest(), edited(version=6))
    assert caught.value.code == "manifest_stale"


def test_other_consortium_is_refused_even_if_newer() -> None:
    with pytest.raises(WrongConsortium):
        update_manifest(manifest(), edited(consortium="other", version=99))


# -- content rules -------------------------------------------------------------------


def _member_dict(node_id: str = "cafe") -> dict[str, Any]:
    member = manifest().member(node_id)
    assert member is not None
    return member.model_dump()


@pytest.mark.parametrize(
    "change",
    [
        {"point_value": 0},
        {"point_value": 5.0},
        {"point_value": True},
        {"point_value": "5"},
        {"kind": "bank"},
        {"status": "deleted"},
        {"endpoint": "javascript:alert(1)"},
        {"endpoint": "https://user:pw@cafe.example/"},
        {"display_name": "Café\nNord"},
        {"display_name": ""},
        {"keys": []},
        {"node_id": "Café"},
        {"email": "owner@cafe.example"},
    ],
)
def test_member_rules(change: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Member.model_validate({**_member_dict(), **change})


def test_member_keys_must_be_sorted_unique_and_named_after_the_node() -> None:
    keys = _member_dict()["keys"]
    for bad in ([keys[1], keys[0]], [keys[0], keys[0]]):
        with pytest.raises(ValidationError, match="sorted"):
            Member.model_validate({**_member_dict(), "keys": bad})
    with pytest.raises(ValidationError, match="bookshop:<key name>"):
        Member.model_validate({**_member_dict("bookshop"), "keys": keys})


def test_key_period_must_not_be_empty() -> None:
    key = _member_dict()["keys"][0]
    with pytest.raises(ValidationError):
        MemberKey.model_validate({**key, "not_after": key["not_before"]})


def test_members_sorted_and_unique() -> None:
    members = manifest().model_dump()["members"]
    for bad in (members[::-1], [members[0], *members]):
        with pytest.raises(ValidationError):
            edited(members=bad)


def test_invalid_content_with_a_good_signature_is_invalid_manifest() -> None:

    claims = manifest().claims()
    claims["settlement_currency"] = "euro"
    token = sign_payload(canonical_json(claims), signer=STEWARD, jwt_type=MANIFEST_JWT_TYPE)
    with pytest.raises(InvalidManifest) as caught:
        verify_manifest(token, steward_keys=[STEWARD.public_jwk()])
    assert caught.value.code == "invalid_manifest"
    assert "settlement_currency" in caught.value.detail


# -- key rotation by overlapping validity ----------------------------------------------

T = NOW + 86_400  # the moment the new key becomes valid
OLD_END = T + 3600  # the old key's end: one hour of overlap


@pytest.fixture
def rotated() -> tuple[Manifest, SigningKey]:
    new = SigningKey("cafe:k4", generate_private_key())
    new_key = MemberKey(jwk=new.public_jwk(), not_before=T, not_after=T + 10**8, revoked_at=None)
    current = rotate_key(
        manifest(), new_key, old_kid="cafe:k2", old_not_after=OLD_END, issued_at=NOW
    )
    return current, new


def test_rotation_publishes_the_next_version(rotated: tuple[Manifest, SigningKey]) -> None:
    current, _ = rotated
    assert current.version == manifest().version + 1
    assert current.issued_at == NOW
    entry = current.key("cafe:k2")
    assert entry is not None and entry.key.not_after == OLD_END
    assert update_manifest(manifest(), current) is current


def test_both_keys_work_during_the_overlap(rotated: tuple[Manifest, SigningKey]) -> None:
    current, new = rotated
    at = T + 100
    old_token = make_token(kid="cafe:k2", issued_at=at, expires_at=at + 600)
    new_token = sign_with(new, issued_at=at)
    assert verify(old_token, the_manifest=current, now=at).kid == "cafe:k2"
    assert verify(new_token, the_manifest=current, now=at).kid == "cafe:k4"


def test_in_flight_message_survives_the_old_keys_end(rotated: tuple[Manifest, SigningKey]) -> None:
    current, _ = rotated
    token = make_token(kid="cafe:k2", issued_at=OLD_END - 1, expires_at=OLD_END + 3600)
    assert verify(token, the_manifest=current, now=OLD_END + 1800).kid == "cafe:k2"


def test_old_key_cannot_sign_after_its_end(rotated: tuple[Manifest, SigningKey]) -> None:
    current, _ = rotated
    token = make_token(kid="cafe:k2", issued_at=OLD_END, expires_at=OLD_END + 600)
    assert code_of(token, current, now=OLD_END) == "key_not_valid"


def test_new_key_cannot_sign_before_its_start(rotated: tuple[Manifest, SigningKey]) -> None:
    current, new = rotated
    assert code_of(sign_with(new, issued_at=T - 1), current, now=T - 1) == "key_not_valid"


def test_rotation_without_overlap_is_refused() -> None:
    new_key = MemberKey(
        jwk=public_jwk(generate_private_key(), kid="cafe:k4"),
        not_before=T,
        not_after=T + 10,
        revoked_at=None,
    )
    with pytest.raises(ValueError, match="before the old one ends"):
        rotate_key(manifest(), new_key, old_kid="cafe:k2", old_not_after=T, issued_at=NOW)


def sign_with(key: SigningKey, *, issued_at: int) -> str:
    return sign_message(
        make_transfer_body(),
        signer=key,
        audience="bookshop",
        message_id="01KDROTATION00000000000001",
        issued_at=issued_at,
        expires_at=issued_at + 600,
    )


# -- revocation and suspension ------------------------------------------------------------


def test_revocation_refuses_even_messages_signed_before_it() -> None:
    token = make_token(kid="cafe:k2", issued_at=NOW - 100, expires_at=NOW + 600)
    revoked = revoke_key(manifest(), "cafe:k2", revoked_at=NOW - 10, issued_at=NOW)
    assert code_of(token, revoked) == "key_revoked"


def test_announced_revocation_bounds_the_key_until_then() -> None:
    revoked = revoke_key(manifest(), "cafe:k2", revoked_at=NOW + 30, issued_at=NOW)
    before = make_token(kid="cafe:k2", issued_at=NOW, expires_at=NOW + 600)
    assert verify(before, the_manifest=revoked).kid == "cafe:k2"
    after = make_token(kid="cafe:k2", issued_at=NOW + 30, expires_at=NOW + 600)
    assert code_of(after, revoked) == "key_not_valid"
    assert code_of(before, revoked, now=NOW + 30) == "key_revoked"


def test_suspension_and_reinstatement() -> None:
    token = make_token()
    suspended = set_member_status(manifest(), "cafe", "suspended", issued_at=NOW)
    assert suspended.version == 8
    assert code_of(token, suspended) == "member_suspended"
    reinstated = set_member_status(suspended, "cafe", "active", issued_at=NOW + 1)
    assert reinstated.version == 9
    assert verify(token, the_manifest=reinstated).issuer == "cafe"


def test_admitting_a_member() -> None:
    shop = SigningKey("florist:k1", generate_private_key())
    member = Member(
        node_id="florist",
        display_name="Blomster",
        kind="business",
        endpoint="https://florist.example",
        point_value=7,
        status="active",
        keys=[
            MemberKey(jwk=shop.public_jwk(), not_before=0, not_after=NOW + 10**6, revoked_at=None)
        ],
    )
    bigger = with_member(manifest(), member, issued_at=NOW)
    assert [m.node_id for m in bigger.members] == [
        "bikeshop",
        "bookshop",
        "cafe",
        "charity",
        "florist",
    ]
    assert code_of(sign_with(shop, issued_at=NOW), manifest()) == "unknown_issuer"
    token = sign_with(shop, issued_at=NOW)
    assert verify(token, the_manifest=bigger).issuer == "florist"


def test_editing_an_unknown_member_or_key_raises() -> None:
    with pytest.raises(KeyError):
        set_member_status(manifest(), "nobody", "suspended", issued_at=NOW)
    with pytest.raises(KeyError):
        revoke_key(manifest(), "cafe:k9", revoked_at=NOW, issued_at=NOW)


def test_model_copy_never_keeps_a_stale_key_index() -> None:
    current = manifest()
    assert verify(make_token(), the_manifest=current).issuer == "cafe"  # index built
    members = [
        {**m.model_dump(), "status": "suspended"} if m.node_id == "cafe" else m.model_dump()
        for m in current.members
    ]
    copied = current.model_copy(update={"members": members, "version": 8})
    assert code_of(make_token(), copied) == "member_suspended"
    with pytest.raises(ValidationError):
        current.model_copy(update={"members": members[::-1]})
