"""`konsort container ...` through the CLI: what the compose services run."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bench.processes import free_port
from node import cli

MEMBERS = ["--member", "cafe:business:50", "--member", "bookshop:business:120"]


def konsort(*args: str) -> int:
    return cli.main(list(args))


@pytest.fixture
def shared(tmp_path: Path) -> Path:
    return tmp_path / "consortium"


def init_node(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, node: str, shared: Path) -> Path:
    data = tmp_path / node
    monkeypatch.setenv("KONSORT_DATA_DIR", str(data))
    monkeypatch.setenv("KONSORT_NODE_ID", node)
    monkeypatch.setenv("KONSORT_DATABASE_URL", f"sqlite:///{tmp_path / (node + '.db')}")
    endpoint = f"http://{node}:8000"
    assert (
        konsort("container", "init", "--consortium-dir", str(shared), "--endpoint", endpoint) == 0
    )
    return data


def steward(tmp_path: Path, shared: Path, *members: str) -> int:
    return konsort(
        "container", "steward", "--steward-dir", str(tmp_path / "steward"),
        "--consortium-dir", str(shared), "--consortium", "test", "--currency", "DKK",
        "--exponent", "2", *members,
    )  # fmt: skip


def test_init_keeps_the_database_url_out_of_the_volume_and_leaves_a_card(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, shared: Path
) -> None:
    data = init_node(monkeypatch, tmp_path, "cafe", shared)

    assert "database_url" not in (data / "konsort.toml").read_text()
    assert (data / "konsort.toml").stat().st_mode & 0o777 == 0o600
    card = json.loads((shared / "members" / "cafe.json").read_text())
    assert (card["node_id"], card["endpoint"]) == ("cafe", "http://cafe:8000")
    assert card["jwk"]["kid"].startswith("cafe:") and "d" not in card["jwk"]
    # Again, as a restarted container does: the same key, the same card.
    init_node(monkeypatch, tmp_path, "cafe", shared)
    assert json.loads((shared / "members" / "cafe.json").read_text()) == card


def test_steward_signs_once_and_again_only_when_a_member_changed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, shared: Path
) -> None:
    init_node(monkeypatch, tmp_path, "cafe", shared)
    init_node(monkeypatch, tmp_path, "bookshop", shared)

    assert steward(tmp_path, shared, *MEMBERS) == 0
    published = (shared / "manifest.jws").read_text()
    assert (shared / "steward.jwk").exists() and not (shared / "steward.pem").exists()
    assert steward(tmp_path, shared, *MEMBERS) == 0
    assert (shared / "manifest.jws").read_text() == published
    assert sorted(p.name for p in (tmp_path / "steward" / "versions").iterdir()) == [
        "1.jws",
        "2.jws",
    ]

    changed = ["--member", "cafe:business:60", "--member", "bookshop:business:120"]
    assert steward(tmp_path, shared, *changed) == 0
    assert (shared / "manifest.jws").read_text() != published
    draft = json.loads((tmp_path / "steward" / "manifest.json").read_text())
    assert draft["version"] == 3
    assert {m["node_id"]: m["point_value"] for m in draft["members"]} == {
        "cafe": 60,
        "bookshop": 120,
    }


def test_steward_and_serve_refuse_clearly_when_a_step_is_missing(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    shared: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    init_node(monkeypatch, tmp_path, "cafe", shared)
    assert konsort("container", "serve", "--consortium-dir", str(shared)) == 2
    assert "has the steward job run?" in capsys.readouterr().err

    assert steward(tmp_path, shared, *MEMBERS) == 2
    assert "no member card for bookshop" in capsys.readouterr().err
    assert steward(tmp_path, shared, "--member", "cafe:business") == 2
    assert "NODE_ID:KIND:POINT_VALUE" in capsys.readouterr().err


@pytest.fixture
def readyz() -> Iterator[tuple[int, list[str], list[int]]]:
    """A stand-in node on a loopback port: records the paths asked, answers a set status."""
    asked: list[str] = []
    status = [200]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            self.send_response(status[0] if self.path == "/readyz" else 404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], asked, status
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_healthcheck_asks_readyz_on_the_configured_port(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    readyz: tuple[int, list[str], list[int]],
) -> None:
    port, asked, status = readyz
    monkeypatch.setenv("KONSORT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("KONSORT_PORT", str(port))
    assert konsort("container", "healthcheck") == 0
    status[0] = 503
    assert konsort("container", "healthcheck") == 1
    assert asked == ["/readyz", "/readyz"]

    monkeypatch.setenv("KONSORT_PORT", str(free_port()))  # nothing listens there
    assert konsort("container", "healthcheck") == 1
