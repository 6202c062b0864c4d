"""The docs stay true: every setting and every CLI command is documented."""

from __future__ import annotations

import argparse
from pathlib import Path

from node.cli import build_parser
from node.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def cli_commands(parser: argparse.ArgumentParser, prefix: str = "konsort") -> list[str]:
    found: list[str] = []
    for action in parser._actions:  # argparse offers no public walk of subcommands
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                nested = cli_commands(sub, f"{prefix} {name}")
                found.extend(nested or [f"{prefix} {name}"])
    return found


def test_every_setting_is_documented() -> None:
    operations = (ROOT / "docs" / "operations.md").read_text()
    missing = [name for name in Settings.model_fields if f"`{name}`" not in operations]
    assert not missing, f"settings missing from docs/operations.md: {missing}"
    assert "KONSORT_CONFIG" in operations


def test_every_command_is_documented() -> None:
    commands = cli_commands(build_parser())
    assert "konsort apikey create" in commands and "konsort serve" in commands
    operations = (ROOT / "docs" / "operations.md").read_text()
    missing = [command for command in commands if f"`{command}" not in operations]
    assert not missing, f"commands missing from docs/operations.md: {missing}"


def test_every_route_is_in_the_api_reference() -> None:
    from node.app import all_endpoints

    api = (ROOT / "docs" / "api.md").read_text()
    missing = [f"{e.method} {e.path}" for e in all_endpoints() if f"{e.method} {e.path}" not in api]
    assert not missing, f"routes missing from docs/api.md: {missing}"


def test_readme_opens_with_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    head = readme[:1500]
    assert "make demo" in head and "make test" in head
