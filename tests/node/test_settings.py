"""Settings: defaults < TOML file < environment < explicit overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.errors import ConfigurationError
from node.settings import Settings, load_settings


def test_defaults_are_sane() -> None:
    settings = load_settings(environ={})
    assert settings.node_id == "node"
    assert settings.host == "127.0.0.1"
    assert settings.resolved_database_url.startswith("sqlite:///")
    assert settings.resolved_database_url.endswith("/data/konsort.db")


def test_sources_override_in_order(tmp_path: Path) -> None:
    config = tmp_path / "konsort.toml"
    config.write_text('node_id = "from-file"\nport = 9000\ncurrency = "NOK"\n')
    settings = load_settings(
        config, environ={"KONSORT_PORT": "9100", "KONSORT_NODE_ID": "from-env"}, node_id="cafe"
    )
    assert (settings.node_id, settings.port, settings.currency) == ("cafe", 9100, "NOK")
    via_env = load_settings(environ={"KONSORT_CONFIG": str(config)})
    assert via_env.node_id == "from-file"


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"node_id": "Café!"}, "node_id"),
        ({"port": 0}, "port"),
        ({"currency": "kroner"}, "currency"),
        ({"point_expiry_days": -1}, "point_expiry_days"),
        ({"log_level": "LOUD"}, "log_level"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_bad_values_name_the_setting(values: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(environ={}, **values)
    assert caught.value.field == field


def test_bad_files_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_settings(tmp_path / "missing.toml", environ={})
    broken = tmp_path / "broken.toml"
    broken.write_text("node_id = ")
    with pytest.raises(ConfigurationError, match="not valid TOML"):
        load_settings(broken, environ={})


def test_settings_are_immutable() -> None:
    settings = Settings()
    with pytest.raises(ValueError):
        settings.port = 1  # type: ignore[misc]
