"""Keys: generation, PEM, RFC 8037 JWKs, and the one registered JWS algorithm."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1
from cryptography.hazmat.primitives.asymmetric.ec import generate_private_key as ec_key
from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
)
from jwt.exceptions import InvalidKeyError
from pydantic import ValidationError

from protocol import (
    PublicJwk,
    SigningKey,
    b64url_decode,
    b64url_encode,
    generate_private_key,
    load_private_key_pem,
    make_kid,
    private_key_from_seed,
    private_key_to_pem,
    public_jwk,
)
from protocol.keys import JWS, Ed25519Algorithm

# RFC 8037 appendix A.1 and A.4: a published Ed25519 key and JWS.
RFC8037_D = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
RFC8037_X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
RFC8037_SIGNING_INPUT = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
RFC8037_SIGNATURE = (
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
)


def test_rfc8037_key_gives_the_published_public_jwk() -> None:
    key = private_key_from_seed(b64url_decode(RFC8037_D))
    jwk = public_jwk(key, kid="rfc:8037")
    assert jwk.to_dict() == {
        "kty": "OKP",
        "crv": "Ed25519",
        "alg": "Ed25519",
        "use": "sig",
        "kid": "rfc:8037",
        "x": RFC8037_X,
    }
    assert jwk.public_key().public_bytes_raw() == b64url_decode(RFC8037_X)


def test_rfc8037_signature_known_answer() -> None:
    key = private_key_from_seed(b64url_decode(RFC8037_D))
    assert b64url_encode(key.sign(RFC8037_SIGNING_INPUT.encode())) == RFC8037_SIGNATURE


def test_pem_round_trip() -> None:
    key = generate_private_key()
    pem = private_key_to_pem(key)
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    loaded = load_private_key_pem(pem)
    assert loaded.private_bytes_raw() == key.private_bytes_raw()


def test_encrypted_pem_needs_its_password() -> None:
    key = generate_private_key()
    pem = private_key_to_pem(key, password=b"correct horse")
    assert b"ENCRYPTED" in pem
    with pytest.raises(TypeError):
        load_private_key_pem(pem)
    assert load_private_key_pem(pem, password=b"correct horse").private_bytes_raw() == (
        key.private_bytes_raw()
    )


def test_loading_another_key_type_is_refused() -> None:
    pem = ec_key(SECP256R1()).private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    with pytest.raises(ValueError, match="Ed25519"):
        load_private_key_pem(pem)


def test_generated_keys_differ() -> None:
    assert generate_private_key().private_bytes_raw() != generate_private_key().private_bytes_raw()


def test_seed_must_be_32_bytes() -> None:
    with pytest.raises(ValueError):
        private_key_from_seed(b"\x00" * 31)


def test_make_kid() -> None:
    assert make_kid("cafe", "2026-01") == "cafe:2026-01"
    for node, name in [
        ("Cafe", "k1"),
        ("cafe:x", "k1"),
        ("cafe", ""),
        ("cafe", "a:b"),
        ("-x", "k"),
    ]:
        with pytest.raises(ValueError):
            make_kid(node, name)


def test_signing_key_repr_hides_the_private_key() -> None:
    signer = SigningKey("cafe:k1", generate_private_key())
    assert "private" not in repr(signer)
    assert signer.node_id == "cafe"
    assert signer.public_jwk().kid == "cafe:k1"


@pytest.mark.parametrize(
    "change",
    [
        {"kty": "EC"},
        {"crv": "Ed448"},
        {"alg": "EdDSA"},
        {"use": "enc"},
        {"x": RFC8037_X[:-1]},
        {"x": RFC8037_X[:-1] + "p"},  # unused bits set: not the canonical form
        {"d": RFC8037_D},  # a private key never goes into a manifest
    ],
)
def test_public_jwk_is_strict(change: dict[str, str]) -> None:
    data = {**public_jwk(private_key_from_seed(bytes(32)), kid="a:b").to_dict(), **change}
    with pytest.raises(ValidationError):
        PublicJwk.model_validate(data)


def test_the_jws_object_knows_only_ed25519() -> None:
    assert JWS.get_algorithms() == ["Ed25519"]
    for name in ["none", "HS256", "EdDSA", "RS256", "ES256"]:
        with pytest.raises(NotImplementedError):
            JWS.get_algorithm_by_name(name)


def test_the_algorithm_refuses_ed448_keys() -> None:
    with pytest.raises(InvalidKeyError):
        Ed25519Algorithm().prepare_key(Ed448PrivateKey.generate())
