"""`konsort admin ...` on an initialised data directory."""

from __future__ import annotations

import io
from pathlib import Path

import pyotp
import pytest

from node import cli
from tests.admin_ui.conftest import PASSWORD


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    assert cli.main(["--data-dir", str(tmp_path), "init", "--node-id", "cafe"]) == 0
    return tmp_path


def _run(
    data_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    *args: str,
    stdin: str = "",
) -> tuple[int, str]:
    capsys.readouterr()
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = cli.main(["--data-dir", str(data_dir), "admin", *args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_create_list_set_role_disable(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = _run(
        data_dir,
        capsys,
        monkeypatch,
        "create-user",
        "--username",
        "kari",
        "--role",
        "operator",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert code == 0 and "created operator kari" in out and "otpauth" not in out
    code, out = _run(
        data_dir,
        capsys,
        monkeypatch,
        "create-user",
        "--username",
        "dpo",
        "--role",
        "privacy_officer",
        "--password-stdin",
        "--totp",
        stdin=PASSWORD + "\n",
    )
    uri = next(line for line in out.splitlines() if line.startswith("otpauth://"))
    assert pyotp.parse_uri(uri).name == "dpo"
    code, out = _run(
        data_dir, capsys, monkeypatch, "set-role", "--username", "kari", "--role", "auditor"
    )
    assert code == 0 and "kari is now auditor" in out
    code, out = _run(data_dir, capsys, monkeypatch, "disable-user", "--username", "dpo")
    assert code == 0
    code, out = _run(data_dir, capsys, monkeypatch, "list-users")
    rows = [line.split("\t")[:4] for line in out.splitlines()[1:]]
    assert rows == [
        ["dpo", "privacy_officer", "disabled", "yes"],
        ["kari", "auditor", "active", "no"],
    ]
    assert PASSWORD not in out


def test_refusals_are_clear(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = _run(
        data_dir,
        capsys,
        monkeypatch,
        "create-user",
        "--username",
        "kari",
        "--role",
        "operator",
        "--password-stdin",
        stdin="short\n",
    )
    assert code == 2 and "at least 12 characters" in out
    code, out = _run(
        data_dir, capsys, monkeypatch, "set-role", "--username", "ghost", "--role", "auditor"
    )
    assert code == 2 and "no staff user" in out


def test_set_password_and_reset_totp(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _run(
        data_dir,
        capsys,
        monkeypatch,
        "create-user",
        "--username",
        "kari",
        "--role",
        "operator",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    code, out = _run(
        data_dir,
        capsys,
        monkeypatch,
        "set-password",
        "--username",
        "kari",
        "--password-stdin",
        stdin="a brand new passphrase\n",
    )
    assert code == 0 and "sessions ended" in out
    code, out = _run(data_dir, capsys, monkeypatch, "reset-totp", "--username", "kari")
    assert code == 0 and "otpauth://totp/" in out
