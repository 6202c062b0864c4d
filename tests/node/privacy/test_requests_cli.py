"""`konsort requests list|show|export`, run in-process through main()."""

from __future__ import annotations

import stat
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from node import cli_requests
from node.clock import ManualClock
from node.db import Database
from node.secrets import NodeSecrets
from node.services import subject_requests
from node.services.idempotency import run_idempotent
from tests.factories import make_customer
from tests.node.test_cli import konsort, node_dir  # noqa: F401  (fixture)


def test_list_show_and_export(
    node_dir: Path,  # noqa: F811
    database_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    clock = ManualClock(datetime(2026, 3, 2, 9, tzinfo=UTC))
    monkeypatch.setattr(cli_requests, "CLOCK", clock)
    secrets = NodeSecrets.load(node_dir / "keys")
    db = Database(database_url)
    try:
        customer = make_customer(db, secrets, clock, name="Ann")
        ids = []
        for type_ in ("access", "erasure"):
            answer = run_idempotent(
                db,
                subject_requests.file_request_unit(
                    secrets=secrets,
                    customer_id=customer,
                    type=type_,
                    channel="customer_api",
                    filed_by="customer",
                    details=None,
                    changes=None,
                    idempotency_key=f"cli-{type_}",
                    now=clock.now(),
                ),
            )
            ids.append(answer.body["id"])
        deps = {"secrets": secrets, "settings": None, "federation": None}
        settings_like = type("Deps", (), deps)()
        run_idempotent(
            db,
            subject_requests.approve_unit(
                node=settings_like,
                request_id=ids[0],
                actor="key_1",
                idempotency_key="cli-approve",
                now=clock.now(),
            ),
        )
    finally:
        db.dispose()
    base = ("--data-dir", str(node_dir), "requests")
    clock.advance(timedelta(days=40))
    code, out, _ = konsort(capsys, *base, "list", "--overdue")
    assert code == 0 and ids[1] in out and ids[0] not in out and "OVERDUE" in out
    code, out, _ = konsort(capsys, *base, "show", ids[0])
    assert code == 0 and "approved -> done" in out
    target = tmp_path / "out.zip"
    code, out, _ = konsort(capsys, *base, "export", ids[0], "--output", str(target))
    assert code == 0, out
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert "export.json" in zipfile.ZipFile(target).namelist()
    code, _, err = konsort(capsys, *base, "export", ids[1])
    assert code == 2 and "export exists only" in err
