"""Admin UI fixtures: a node behind TestClient, one staff user per role, signed-in clients."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from node.app import create_app
from node.clock import ManualClock
from node.db import Database
from node.secrets import NodeSecrets
from node.services import staff
from node.settings import Settings
from node.store.staff_models import ROLES
from tests.admin_ui.browser import chromium, live_node, page  # noqa: F401  (browser fixtures)

PASSWORD = "correct horse battery"
BASE = "https://cafe.test"
SAME_ORIGIN = {"Origin": BASE}


@pytest.fixture
def ui(
    settings: Settings, db: Database, clock: ManualClock, node_secrets: NodeSecrets
) -> Iterator[TestClient]:
    app = create_app(settings, clock=clock, secrets=node_secrets, database=db, run_jobs=False)
    with TestClient(app, base_url=BASE, follow_redirects=False) as client:
        yield client


def make_staff(
    db: Database,
    node_secrets: NodeSecrets,
    clock: ManualClock,
    *,
    role: str,
    username: str | None = None,
    totp: bool = False,
) -> staff.NewStaffUser:
    return staff.create_user(
        db,
        node_secrets=node_secrets,
        username=username or role.replace("_", "-"),
        display_name=f"The {role}",
        role=role,
        password=PASSWORD,
        totp=totp,
        now=clock.now(),
    )


@pytest.fixture
def staff_users(
    db: Database, node_secrets: NodeSecrets, clock: ManualClock
) -> dict[str, staff.StaffAccount]:
    return {role: make_staff(db, node_secrets, clock, role=role).account for role in ROLES}


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> None:
    response = client.post(
        "/admin/login",
        data={"username": username, "password": password},
        headers=SAME_ORIGIN,
    )
    assert response.status_code == 303, response.text
    assert "konsort_staff" in response.cookies or client.cookies.get("konsort_staff")


@pytest.fixture
def operator_api(ui: TestClient, db: Database, clock: ManualClock) -> object:
    """Some data for the dashboard: two members, purchases through the operator API."""
    import uuid

    from node.services.apikeys import create_api_key

    token = create_api_key(db, name="till", now=clock.now()).token
    auth = {"Authorization": f"Bearer {token}"}
    for email in ("a@example.org", "b@example.org"):
        created = ui.post(
            "/api/v1/customers",
            json={"name": "A", "email": email},
            headers={**auth, "Idempotency-Key": str(uuid.uuid4())},
        )
        assert created.status_code == 201, created.text
        bought = ui.post(
            f"/api/v1/customers/{created.json()['id']}/purchases",
            json={"amount": 123450},
            headers={**auth, "Idempotency-Key": str(uuid.uuid4())},
        )
        assert bought.status_code in (200, 201), bought.text
    return auth
