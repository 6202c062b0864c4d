"""The Dockerfile: two stages, the project installed the way this test
environment installed it, a non-root runtime without compilers, keys and data
on a volume, a HEALTHCHECK on /readyz, and `konsort container serve` as the
start command the compose test runs."""

from __future__ import annotations

import re
import shlex
import tomllib
from importlib.metadata import distribution, version

from packaging.requirements import Requirement

from tests.deploy.compose import ROOT, Dockerfile, load_compose

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
COMPILERS = re.compile(r"\b(build-essential|gcc|g\+\+|clang|make|cc|libc6-dev|python3-dev)\b")


def install_command(dockerfile: Dockerfile, stage: int) -> list[str]:
    runs = [shlex.split(run) for run in dockerfile.instructions("RUN", stage)]
    installs = [run for run in runs if run[:2] == ["pip", "install"]]
    assert len(installs) == 1, installs
    return installs[0]


def test_two_stages_on_slim_python_311() -> None:
    dockerfile = Dockerfile.read()
    assert len(dockerfile.stages) == 2
    assert dockerfile.instructions("FROM", 0) == ["python:3.11-slim AS builder"]
    assert dockerfile.instructions("FROM", 1) == ["python:3.11-slim"]
    assert "--from=builder /opt/konsort /opt/konsort" in dockerfile.instructions("COPY")


def test_the_image_installs_this_project_as_this_environment_did() -> None:
    dockerfile = Dockerfile.read()
    command = install_command(dockerfile, 0)
    assert command[-1].startswith(".["), command  # the project in the build context
    extras = set(re.findall(r"\[(.*)\]", command[-1])[0].split(","))
    assert extras == {"postgres"}, command
    # Everything that install pulls in is what this test environment runs with.
    installed = distribution("konsort")
    for line in installed.requires or []:
        requirement = Requirement(line)
        wanted = requirement.marker is None or any(
            requirement.marker.evaluate({"extra": extra}) for extra in {"", *extras}
        )
        if wanted:
            assert requirement.specifier.contains(version(requirement.name), prereleases=True), line
    # The build context holds what pip needs: pyproject, the readme, every package.
    copied = " ".join(dockerfile.instructions("COPY", 0))
    packages = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    for needed in [
        "pyproject.toml",
        PYPROJECT["project"]["readme"],
        *(p.rstrip("*") for p in packages),
    ]:
        assert needed in copied, needed
        assert f"!{needed}" in (ROOT / ".dockerignore").read_text()


def test_the_runtime_runs_as_konsort_without_compilers() -> None:
    dockerfile = Dockerfile.read()
    assert dockerfile.instructions("USER") == ["konsort"]
    assert COMPILERS.search(" ".join(dockerfile.instructions("RUN", 0)))  # the builder has them
    for run in dockerfile.instructions("RUN"):
        assert not COMPILERS.search(run), run
        assert "apt-get install" not in run


def test_keys_and_data_live_on_a_volume() -> None:
    dockerfile = Dockerfile.read()
    data_dir = dockerfile.env()["KONSORT_DATA_DIR"]
    assert dockerfile.volumes() == [data_dir]
    assert f"-m 0700 {data_dir}" in " ".join(dockerfile.instructions("RUN"))


def test_start_and_health_commands_are_konsorts() -> None:
    dockerfile = Dockerfile.read()
    assert dockerfile.exec_form("ENTRYPOINT") == ["konsort"]
    assert PYPROJECT["project"]["scripts"]["konsort"] == "node.cli:main"
    assert dockerfile.exec_form("CMD")[:2] == ["container", "serve"]
    assert dockerfile.healthcheck() == ["konsort", "container", "healthcheck"]
    compose = load_compose()
    # The node services run the image's CMD: what the compose test starts.
    assert all("command" not in compose["services"][node] for node in ("cafe", "bookshop"))
