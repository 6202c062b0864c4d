"""Shared steps of the data-subject request tests, through the HTTP APIs."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.node.conftest import Operator

STAFF = "/api/v1/privacy/requests"
MINE = "/api/v1/me/requests"


class Member:
    """A signed-in member: the customer API with their own token."""

    def __init__(self, operator: Operator, customer_id: str) -> None:
        self.id = customer_id
        self.client = operator.client
        token = operator.post(f"/api/v1/customers/{customer_id}/tokens").json()["token"]
        self.auth = {"Authorization": f"Bearer {token}"}

    def post(self, path: str, body: Any = None, *, key: str | None = None) -> httpx.Response:
        headers = {**self.auth, "Idempotency-Key": key or str(uuid.uuid4())}
        return self.client.post(path, json=body, headers=headers)

    def put(self, path: str, body: Any = None, *, key: str | None = None) -> httpx.Response:
        headers = {**self.auth, "Idempotency-Key": key or str(uuid.uuid4())}
        return self.client.put(path, json=body, headers=headers)

    def get(self, path: str) -> httpx.Response:
        return self.client.get(path, headers=self.auth)


def staff_file(operator: Operator, customer_id: str, type: str = "access", **extra: Any) -> str:
    body = {"customer_id": customer_id, "type": type, "channel": "email", **extra}
    response = operator.post(STAFF, body)
    assert response.status_code == 201, response.text
    assert response.json()["state"] == "received"
    return str(response.json()["id"])


def verify_in_person(operator: Operator, request_id: str) -> httpx.Response:
    return operator.post(f"{STAFF}/{request_id}/verify", {"method": "in_person_document"})


def approve(operator: Operator, request_id: str) -> httpx.Response:
    return operator.post(f"{STAFF}/{request_id}/approve")
