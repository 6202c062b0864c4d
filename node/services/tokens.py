"""Short-lived customer API tokens (JWT, HS256) minted by the operator API.

The shop signs a customer in on its own terms, then asks the node for a token
bound to that customer. The token names the customer by opaque id only.
Expiry is checked against the node's injected clock, not the wall clock, so
tests and simulations can move time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

from node.errors import Unauthenticated
from node.ids import new_id
from node.secrets import NodeSecrets

ALGORITHM = "HS256"
AUDIENCE = "konsort:customer-api"


@dataclass(frozen=True)
class CustomerToken:
    token: str
    expires_at: datetime


def mint_customer_token(
    secrets: NodeSecrets, *, node_id: str, customer_id: str, now: datetime, ttl_seconds: int
) -> CustomerToken:
    now = now.replace(microsecond=0)  # JWT times are whole seconds
    expires_at = now + timedelta(seconds=ttl_seconds)
    claims = {
        "iss": node_id,
        "aud": AUDIENCE,
        "sub": customer_id,
        "iat": int(now.timestamp()),
        "exp": int(expires_at.timestamp()),
        "jti": new_id("tok"),
    }
    token = jwt.encode(claims, secrets.token_key, algorithm=ALGORITHM)
    return CustomerToken(token, expires_at)


def verify_customer_token(secrets: NodeSecrets, token: str, *, node_id: str, now: datetime) -> str:
    """The customer id a valid token names; Unauthenticated otherwise."""
    try:
        claims = jwt.decode(
            token,
            secrets.token_key,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=node_id,
            options={"verify_exp": False, "verify_iat": False, "require": ["exp", "sub"]},
        )
    except jwt.PyJWTError:
        raise Unauthenticated("the customer token is invalid") from None
    if not isinstance(claims["exp"], int) or claims["exp"] <= now.timestamp():
        raise Unauthenticated("the customer token has expired")
    subject = claims["sub"]
    if not isinstance(subject, str):
        raise Unauthenticated("the customer token is invalid")
    return subject
