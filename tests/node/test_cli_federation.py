"""`konsort keys|steward|consortium|federation ...`: a consortium set up with the CLI only."""

from __future__ import annotations

import functools
import json
import stat
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from node import cli_federation
from node.cli import main
from node.clock import ManualClock
from node.db import Database
from node.secrets import NodeSecrets
from node.services.federation import Federation
from node.settings import load_settings

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass
class Cli:
    capsys: pytest.CaptureFixture[str]
    root: Path
    clock: ManualClock

    def __call__(self, *args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = self.capsys.readouterr()
        return code, out, err

    def ok(self, *args: str) -> str:
        code, out, err = self(*args)
        assert code == 0, err
        return out

    def node(self, node_id: str, *args: str) -> tuple[int, str, str]:
        return self("--data-dir", str(self.root / node_id), *args)

    def steward(self, *args: str, steward_dir: str = "steward") -> str:
        command, *rest = args
        return self.ok("steward", command, "--steward-dir", str(self.root / steward_dir), *rest)

    def path(self, *parts: str) -> str:
        return str(self.root.joinpath(*parts))


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def jwk_of(out: str) -> dict[str, Any]:
    """The JWK on the last JSON line of a command's output."""
    line = [line for line in out.splitlines() if line.startswith("{")][-1]
    found: dict[str, Any] = json.loads(line.split("\t")[0])
    return found


def signer_kid(cli: Cli, node_id: str) -> str:
    directory = cli.root / node_id
    settings = load_settings(directory / "konsort.toml", environ={}, data_dir=directory)
    federation = Federation(
        node_id=node_id,
        keys_dir=settings.keys_dir,
        secrets=NodeSecrets.load(settings.keys_dir),
        message_ttl_seconds=60,
    )
    db = Database(settings.resolved_database_url)
    try:
        return federation.signer(federation.manifest(db), now=cli.clock.now()).kid
    finally:
        db.dispose()


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    clock = ManualClock(START)
    monkeypatch.setattr(cli_federation, "CLOCK", clock)
    return Cli(capsys, tmp_path, clock)


@pytest.fixture
def consortium(cli: Cli) -> Cli:
    """Steward, café (1 point = 0.50 DKK) and bookshop (1.20 DKK), both on manifest v2."""
    out = cli.steward("init", "--consortium", "kbh", "--currency", "DKK", "--exponent", "2")
    assert jwk_of(out)["kid"] == "steward:k20260302T090000"
    for node_id in ("cafe", "bookshop"):
        code, out, _ = cli.node(node_id, "init", "--node-id", node_id)
        assert code == 0 and "give this public key to the steward" in out
        jwk = jwk_of(out)
        assert jwk["kid"] == f"{node_id}:k20260302T090000" and jwk["kty"] == "OKP"
        code, shown, _ = cli.node(node_id, "keys", "show")
        assert code == 0
        assert shown == f"{json.dumps(jwk, separators=(',', ':'))}\tno manifest loaded\n"
        Path(cli.path(f"{node_id}.jwk")).write_text(shown)
    cli.steward(
        "add-member",
        *("--node-id", "cafe", "--display-name", "Café Aroma", "--kind", "business"),
        *("--endpoint", "https://cafe.example", "--point-value", "50"),
        *("--jwk", cli.path("cafe.jwk")),  # a file holding a `keys show` line
    )
    cli.steward(
        "add-member",
        *("--node-id", "bookshop", "--display-name", "Books", "--kind", "business"),
        *("--endpoint", "https://books.example:8443/konsort", "--point-value", "120"),
        *("--jwk", Path(cli.path("bookshop.jwk")).read_text().split("\t")[0]),  # JSON inline
    )
    for node_id in ("cafe", "bookshop"):
        code, out, _ = cli.node(
            node_id, "consortium", "pin-steward", cli.path("steward", "steward.jwk")
        )
        assert code == 0 and "pinned steward key steward:k20260302T090000" in out
        code, out, _ = cli.node(node_id, "consortium", "load", cli.path("steward", "manifest.jws"))
        assert code == 0, out
        assert out.splitlines() == [
            "manifest version 2 of kbh in force",
            "bookshop\tbusiness\tactive\t120\thttps://books.example:8443/konsort",
            "cafe\tbusiness\tactive\t50\thttps://cafe.example",
        ]
    return cli


def test_a_consortium_set_up_with_the_cli_only(consortium: Cli) -> None:
    cli = consortium
    assert cli.steward("show").splitlines() == [
        "manifest version 2 of kbh (issued 2026-03-02T09:00:00Z;"
        " point values in DKK minor units, exponent 2)",
        "bookshop\tbusiness\tactive\t120\thttps://books.example:8443/konsort",
        "\tkey bookshop:k20260302T090000\t2026-03-02T09:00:00Z .. 2027-03-02T09:00:00Z",
        "cafe\tbusiness\tactive\t50\thttps://cafe.example",
        "\tkey cafe:k20260302T090000\t2026-03-02T09:00:00Z .. 2027-03-02T09:00:00Z",
    ]
    code, out, _ = cli.node("cafe", "consortium", "show")
    assert code == 0 and out == cli.steward("show")
    code, out, _ = cli.node("cafe", "keys", "show")
    assert out.endswith("\tsigning (manifest v2)\n") and '"kid":"cafe:k20260302T090000"' in out
    assert signer_kid(cli, "cafe") == "cafe:k20260302T090000"
    # Loading the same version again changes nothing.
    code, out, _ = cli.node("cafe", "consortium", "load", cli.path("steward", "manifest.jws"))
    assert code == 0 and out.startswith("manifest version 2 already in force")
    code, out, _ = cli.node("cafe", "federation", "status")
    assert code == 0 and out.splitlines()[0] == "node cafe; manifest version 2"


def test_key_files_are_private(consortium: Cli) -> None:
    root = consortium.root
    assert mode(root / "steward" / "steward.pem") == 0o600
    assert "PRIVATE" not in (root / "steward" / "steward.jwk").read_text()
    for node_id in ("cafe", "bookshop"):
        (key,) = (root / node_id / "keys" / "signing").glob("*.pem")
        assert mode(key) == 0o600 and mode(key.parent) == 0o700
        assert mode(root / node_id / "keys" / "steward.jwk") == 0o600


def test_init_again_keeps_the_signing_key(consortium: Cli) -> None:
    code, out, _ = consortium.node("cafe", "init")
    assert code == 0 and "signing key already present: cafe:k20260302T090000" in out
    assert len(list((consortium.root / "cafe" / "keys" / "signing").glob("*.pem"))) == 1


def test_a_suspension_is_loaded_and_an_older_version_refused(consortium: Cli) -> None:
    cli = consortium
    cli.clock.advance(timedelta(hours=1))
    assert "signed manifest version 3" in cli.steward("suspend", "bookshop")
    code, out, _ = cli.node("cafe", "consortium", "load", cli.path("steward", "manifest.jws"))
    assert code == 0 and "bookshop\tbusiness\tsuspended\t120" in out
    assert "bookshop\tbusiness\tsuspended" in cli.node("cafe", "consortium", "show")[1]
    code, _, err = cli.node("cafe", "consortium", "load", cli.path("steward", "versions", "2.jws"))
    assert code == 2 and err == "konsort: version 2 is older than 3\n"
    code, _, err = cli("steward", "suspend", "bookshop", "--steward-dir", cli.path("steward"))
    assert code == 2 and "bookshop is suspended already" in err
    assert "signed manifest version 4" in cli.steward("activate", "bookshop")
    assert cli.node("cafe", "consortium", "load", cli.path("steward", "manifest.jws"))[0] == 0
    assert "bookshop\tbusiness\tactive" in cli.node("cafe", "consortium", "show")[1]


def test_a_manifest_of_another_steward_is_refused(consortium: Cli) -> None:
    cli = consortium
    cli.steward(
        "init", "--consortium", "kbh", "--currency", "DKK", "--exponent", "2", steward_dir="rogue"
    )
    cli.steward(
        "add-member",
        *("--node-id", "cafe", "--display-name", "Café", "--kind", "charity"),
        *("--endpoint", "https://evil.example", "--point-value", "9999"),
        *("--jwk", cli.path("cafe.jwk")),
        steward_dir="rogue",
    )
    code, _, err = cli.node("cafe", "consortium", "load", cli.path("rogue", "manifest.jws"))
    assert code == 2 and err.startswith("konsort: the manifest does not verify:")
    code, _, err = cli.node("cafe", "consortium", "pin-steward", cli.path("rogue", "steward.jwk"))
    assert code == 2 and "another steward key (steward:k20260302T090000) is pinned" in err
    assert "https://cafe.example" in cli.node("cafe", "consortium", "show")[1]


def test_key_rotation_without_downtime(consortium: Cli) -> None:
    cli = consortium
    cli.clock.advance(timedelta(days=30))
    code, out, _ = cli.node("cafe", "keys", "rotate")
    assert code == 0 and jwk_of(out)["kid"] == "cafe:k20260401T090000"
    Path(cli.path("cafe-new.jwk")).write_text(out)
    # The manifest does not list the new key yet: the old one keeps signing.
    assert signer_kid(cli, "cafe") == "cafe:k20260302T090000"
    shown = cli.node("cafe", "keys", "show")[1].splitlines()
    assert shown[0].endswith("\tsigning (manifest v2)")
    assert shown[1].endswith("\tnot in manifest v2")

    cli.clock.advance(timedelta(minutes=5))
    cli.steward("add-key", "cafe", "--jwk", cli.path("cafe-new.jwk"))
    for node_id in ("cafe", "bookshop"):
        assert cli.node(node_id, "consortium", "load", cli.path("steward", "manifest.jws"))[0] == 0
    assert signer_kid(cli, "cafe") == "cafe:k20260401T090000"
    shown = cli.node("cafe", "keys", "show")[1].splitlines()
    assert shown[0].endswith("\tvalid (manifest v3)")  # peers still accept the old key
    assert shown[1].endswith("\tsigning (manifest v3)")

    # Retiring the old key after an overlap: it ends 7 days from now.
    cli.clock.advance(timedelta(days=1))
    code, out, _ = cli.node("cafe", "keys", "rotate")
    Path(cli.path("cafe-3.jwk")).write_text(out)
    cli.steward(
        "add-key", "cafe", "--jwk", cli.path("cafe-3.jwk"), "--replaces", "cafe:k20260302T090000"
    )
    assert "\tkey cafe:k20260302T090000\t2026-03-02T09:00:00Z .. 2026-04-09T09:05:00Z" in (
        cli.steward("show")
    )


def test_load_from_a_url(consortium: Cli) -> None:
    cli = consortium
    cli.clock.advance(timedelta(hours=1))
    cli.steward("suspend", "cafe")

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    handler = functools.partial(Quiet, directory=cli.path("steward"))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        code, out, err = cli.node("bookshop", "consortium", "load", f"{base}/manifest.jws")
        assert code == 0, err
        assert out.splitlines()[0] == "manifest version 3 of kbh in force"
        code, _, err = cli.node("bookshop", "consortium", "load", f"{base}/missing.jws")
        assert code == 2 and err == f"konsort: cannot fetch {base}/missing.jws: HTTP 404\n"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    code, _, err = cli.node("bookshop", "consortium", "load", f"{base}/manifest.jws")
    assert code == 2 and err.startswith(f"konsort: cannot fetch {base}/manifest.jws:")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--jwk", '{"kty": "OKP"}'), "konsort: jwk: crv: Field required"),
        (("--jwk", "missing.jwk"), "konsort: cannot read JWK file missing.jwk"),
        (("--point-value", "-1"), "konsort: member: point_value:"),
        (("--endpoint", "ftp://cafe"), "konsort: member: endpoint:"),
    ],
)
def test_bad_members_are_refused_cleanly(
    consortium: Cli, args: tuple[str, ...], message: str
) -> None:
    cli = consortium
    fields = {
        "--node-id": "bikes",
        "--display-name": "Bikes",
        "--kind": "business",
        "--endpoint": "https://bikes.example",
        "--point-value": "80",
        "--jwk": cli.path("cafe.jwk"),
    }
    fields.update(dict(zip(args[::2], args[1::2], strict=True)))
    flat = [part for item in fields.items() for part in item]
    code, _, err = cli("steward", "add-member", "--steward-dir", cli.path("steward"), *flat)
    assert code == 2 and err.startswith(message), err
    assert "manifest version 2 " in cli.steward("show")


def test_a_member_key_must_carry_its_node_id(consortium: Cli) -> None:
    cli = consortium
    code, _, err = cli(
        "steward",
        "add-member",
        *("--steward-dir", cli.path("steward"), "--node-id", "bikes", "--display-name", "B"),
        *("--kind", "business", "--endpoint", "https://b.example", "--point-value", "1"),
        *("--jwk", cli.path("cafe.jwk")),
    )
    assert code == 2 and "every kid of bikes must be bikes:<key name>" in err


def test_clear_errors_before_setup(cli: Cli) -> None:
    code, _, err = cli.node("cafe", "keys", "rotate")
    assert code == 2 and "run `konsort init`" in err
    assert not Path(cli.path("cafe")).exists()
    code, _, err = cli("steward", "show", "--steward-dir", cli.path("nowhere"))
    assert code == 2 and err.startswith("konsort: no manifest in")
    code, _, err = cli(
        "steward", "init", "--steward-dir", cli.path("s"), "--consortium", "x",
        "--currency", "dkk", "--exponent", "2",
    )  # fmt: skip
    assert code == 2 and err.startswith("konsort: settlement_currency:")
    assert not Path(cli.path("s", "steward.pem")).exists()
    cli.node("cafe", "init", "--node-id", "cafe")
    code, _, err = cli.node("cafe", "consortium", "show")
    assert code == 2 and "no consortium manifest loaded" in err
    code, _, err = cli.node("cafe", "consortium", "load", cli.path("none.jws"))
    assert code == 2 and err.startswith("konsort: cannot read manifest")
    Path(cli.path("m.jws")).write_text("not a token")
    code, _, err = cli.node("cafe", "consortium", "load", cli.path("m.jws"))
    assert code == 2 and "no steward key is pinned" in err
    code, out, _ = cli.node("cafe", "federation", "status")
    assert code == 0 and "manifest version none" in out
