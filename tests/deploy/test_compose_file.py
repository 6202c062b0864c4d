"""The shape of docker-compose.yml: the services of a three-node consortium,
their health checks and start order, named volumes, no default secrets, and
nothing published beyond the three node ports the docs name."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from tests.deploy.compose import (
    CONTAINER_PORT,
    ROOT,
    Dockerfile,
    MissingVariable,
    interpolate,
    is_database,
    load_compose,
    mounts,
    one_shot_services,
    required_variables,
    start_order,
)

NODES = ("cafe", "bookshop", "charity")
SECRETS = {f"{node.upper()}_DB_PASSWORD" for node in NODES}


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return load_compose()


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    found: dict[str, Any] = load_compose({name: "pw" for name in SECRETS})["services"]
    return found


def test_the_services_are_three_nodes_their_databases_inits_and_a_steward(
    services: dict[str, Any],
) -> None:
    expected = {f"{node}{part}" for node in NODES for part in ("", "-db", "-init")}
    assert set(services) == expected | {"steward"}
    assert {name for name, svc in services.items() if is_database(svc)} == {
        f"{node}-db" for node in NODES
    }
    assert one_shot_services(services) == {f"{node}-init" for node in NODES} | {"steward"}


def test_long_running_services_have_health_checks_and_one_shots_do_not_restart(
    services: dict[str, Any],
) -> None:
    node_check = ["CMD", *Dockerfile.read().healthcheck()]
    for node in NODES:
        assert services[f"{node}-db"]["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
        assert services[node]["healthcheck"]["test"] == node_check
        assert services[node]["restart"] == "unless-stopped"
    for name in one_shot_services(services):
        assert "healthcheck" not in services[name]
        assert services[name].get("restart", "no") == "no", name


def test_each_step_waits_for_what_it_needs(services: dict[str, Any]) -> None:
    def waits(name: str) -> dict[str, str]:
        return {dep: rule["condition"] for dep, rule in services[name]["depends_on"].items()}

    for node in NODES:
        assert waits(f"{node}-init") == {f"{node}-db": "service_healthy"}
        assert waits(node) == {
            f"{node}-db": "service_healthy",
            "steward": "service_completed_successfully",
        }
    assert waits("steward") == {f"{n}-init": "service_completed_successfully" for n in NODES}
    order = start_order(services)
    for node in NODES:
        assert (
            order.index(f"{node}-db")
            < order.index(f"{node}-init")
            < order.index("steward")
            < order.index(node)
        )


def test_volumes_are_named_and_the_steward_key_is_the_stewards_alone(
    raw: dict[str, Any], services: dict[str, Any]
) -> None:
    declared = set(raw["volumes"])
    data_dir = Dockerfile.read().env()["KONSORT_DATA_DIR"]
    for name, service in services.items():
        for volume in mounts(service).values():
            assert volume in declared, f"{name} mounts {volume}: not a named volume"
    for node in NODES:
        assert mounts(services[f"{node}-db"]) == {"/var/lib/postgresql/data": f"{node}-db"}
        for name in (node, f"{node}-init"):
            assert mounts(services[name])[data_dir] == f"{node}-data"
        assert "consortium:/var/lib/konsort-consortium:ro" in services[node]["volumes"]
    holders = {name for name, svc in services.items() if "steward" in mounts(svc).values()}
    assert holders == {"steward"}


def test_secrets_have_no_defaults_and_compose_stops_with_a_clear_message(
    raw: dict[str, Any],
) -> None:
    required = required_variables(raw)
    assert set(required) == SECRETS
    for name, message in required.items():
        assert name in message and "docs/deployment.md" in message, message
    text = (ROOT / "docker-compose.yml").read_text()
    assert not re.search(r"\$\{[A-Z_]*(PASSWORD|SECRET|KEY)[A-Z_]*:?-", text), "a default secret"
    for node in NODES:
        with pytest.raises(MissingVariable) as missing:
            interpolate(raw, {k: "pw" for k in SECRETS - {f"{node.upper()}_DB_PASSWORD"}})
        assert missing.value.name == f"{node.upper()}_DB_PASSWORD"
        with pytest.raises(MissingVariable):  # set but empty fails too (":?")
            interpolate(raw, {k: "" for k in SECRETS})


def test_each_node_uses_its_own_database_with_the_password_from_the_environment(
    raw: dict[str, Any],
) -> None:
    services = raw["services"]
    for node in NODES:
        for name in (node, f"{node}-init"):
            url = services[name]["environment"]["KONSORT_DATABASE_URL"]
            assert f"${{{node.upper()}_DB_PASSWORD:?" in url
            parsed = make_url(interpolate(url, {f"{node.upper()}_DB_PASSWORD": "pw"}))
            assert (parsed.drivername, parsed.host, parsed.password) == (
                "postgresql+psycopg",
                f"{node}-db",
                "pw",
            )
        assert "${" + f"{node.upper()}_DB_PASSWORD:?" in str(
            services[f"{node}-db"]["environment"]["POSTGRES_PASSWORD"]
        )


def test_nodes_are_members_at_their_in_compose_urls(services: dict[str, Any]) -> None:
    steward = services["steward"]["command"]
    members = [steward[i + 1].split(":")[0] for i, arg in enumerate(steward) if arg == "--member"]
    assert members == list(NODES)
    for node in NODES:
        init = services[f"{node}-init"]["command"]
        assert init[init.index("--endpoint") + 1] == f"http://{node}:{CONTAINER_PORT}"
        assert services[node]["environment"]["KONSORT_NODE_ID"] == node
        assert services[f"{node}-init"]["environment"] == services[node]["environment"]
        assert "command" not in services[node]  # the image's CMD: container serve


def test_only_the_three_node_ports_are_published_on_loopback_as_documented(
    services: dict[str, Any],
) -> None:
    published = {name: svc["ports"] for name, svc in services.items() if "ports" in svc}
    assert set(published) == set(NODES)
    readme = (ROOT / "README.md").read_text()
    deployment = (ROOT / "docs" / "deployment.md").read_text()
    for ports in published.values():
        assert len(ports) == 1
        host, host_port, container_port = str(ports[0]).split(":")
        assert (host, int(container_port)) == ("127.0.0.1", CONTAINER_PORT)
        assert f"127.0.0.1:{host_port}" in readme and f"127.0.0.1:{host_port}" in deployment
    assert Dockerfile.read().env()["KONSORT_PORT"] == str(CONTAINER_PORT)
