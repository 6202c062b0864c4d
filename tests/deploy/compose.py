"""Reading docker-compose.yml and the Dockerfile, and running their services as
local processes: compose without a Docker engine, for tests/deploy/.

What a container gives a service and how the local run stands in for it
(:class:`LocalCompose`), each substitution explicit and nothing else changed:

- a **named volume** mounted at a container path is a directory under the
  run's root: the mount path in the service's environment and command
  becomes that directory (``cafe-data:/var/lib/konsort`` ->
  ``<root>/volumes/cafe-data``);
- a **PostgreSQL service** (image ``postgres:*``) is a fresh database on the
  local server: ``KONSORT_DATABASE_URL`` pointing at that service's host
  becomes the test database's URL (the password, from the ``${..:?..}``
  variable, is not needed there: the local server trusts loopback);
- **service names as host names**: every container has its own network
  address, while local processes share one; a node service listens on a
  free loopback port instead of 0.0.0.0:8000 (``KONSORT_HOST``,
  ``KONSORT_PORT``), and ``http://<service>:<container port>`` anywhere in an
  environment value or argument becomes ``http://127.0.0.1:<its port>``;
- **the image**: ``KONSORT_*`` from the Dockerfile's ``ENV``, its
  ``ENTRYPOINT`` and ``CMD`` (for a service without ``command``), with
  ``konsort`` being the console script of this test's virtualenv, which was
  installed by the same ``pip install`` of this project as the image's.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.engine import make_url

from bench.processes import HOST, child_env, dying_with_parent, free_port

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
CONTAINER_PORT = 8000

_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


class MissingVariable(Exception):
    """A ``${NAME:?message}`` whose variable is unset: compose stops with the message."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


def interpolate(value: Any, variables: Mapping[str, str]) -> Any:
    """Compose's variable interpolation on every string in ``value``."""
    if isinstance(value, dict):
        return {key: interpolate(item, variables) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, variables) for item in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["name"] or match["bare"]
        op, arg = match["op"] or "", match["arg"] or ""
        present = name in variables and (variables[name] != "" or not op.startswith(":"))
        if present:
            return variables[name]
        if op.endswith("?"):
            raise MissingVariable(name, arg)
        return arg if op.endswith("-") else ""

    return _VARIABLE.sub(one, value)


def required_variables(value: Any) -> dict[str, str]:
    """Every ``${NAME:?message}`` (and ``${NAME?message}``) in ``value``: name -> message."""
    found: dict[str, str] = {}
    if isinstance(value, dict):
        for item in value.values():
            found.update(required_variables(item))
    elif isinstance(value, list):
        for item in value:
            found.update(required_variables(item))
    elif isinstance(value, str):
        for match in _VARIABLE.finditer(value):
            if match["op"] in (":?", "?"):
                found[match["name"]] = match["arg"]
    return found


def load_compose(variables: Mapping[str, str] | None = None) -> dict[str, Any]:
    """docker-compose.yml parsed (anchors and merge keys resolved), interpolated when
    ``variables`` is given."""
    raw = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(raw, dict)
    return raw if variables is None else dict(interpolate(raw, variables))


@dataclass
class Dockerfile:
    stages: list[list[tuple[str, str]]]  # per FROM: (INSTRUCTION, arguments)

    @classmethod
    def read(cls, path: Path = DOCKERFILE) -> Dockerfile:
        text = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
        stages: list[list[tuple[str, str]]] = []
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            instruction, _, arguments = line.partition(" ")
            if instruction.upper() == "FROM":
                stages.append([])
            stages[-1].append((instruction.upper(), " ".join(arguments.split())))
        return cls(stages)

    def instructions(self, name: str, stage: int = -1) -> list[str]:
        return [arguments for instruction, arguments in self.stages[stage] if instruction == name]

    def exec_form(self, name: str) -> list[str]:
        """The last ENTRYPOINT or CMD of the final stage, in exec (JSON) form."""
        found = self.instructions(name)[-1]
        parsed = yaml.safe_load(found)  # a JSON array is YAML
        assert isinstance(parsed, list), f"{name} is not in exec form: {found}"
        return [str(part) for part in parsed]

    def healthcheck(self) -> list[str]:
        """The final stage's HEALTHCHECK command, in exec form."""
        found = self.instructions("HEALTHCHECK")[-1]
        parsed = yaml.safe_load(found.partition(" CMD ")[2])
        assert isinstance(parsed, list), f"HEALTHCHECK is not in exec form: {found}"
        return [str(part) for part in parsed]

    def volumes(self) -> list[str]:
        """The final stage's VOLUME paths."""
        found: list[str] = []
        for arguments in self.instructions("VOLUME"):
            parsed = yaml.safe_load(arguments) if arguments.startswith("[") else arguments.split()
            found.extend(str(path) for path in parsed)
        return found

    def env(self) -> dict[str, str]:
        """The final stage's ENV (``KEY=value`` pairs)."""
        found: dict[str, str] = {}
        for arguments in self.instructions("ENV"):
            for pair in shlex.split(arguments):
                key, _, value = pair.partition("=")
                found[key] = value
        return found


def mounts(service: Mapping[str, Any]) -> dict[str, str]:
    """A service's named volumes: container path -> volume name."""
    found: dict[str, str] = {}
    for entry in service.get("volumes", []):
        volume, target = str(entry).split(":")[:2]
        found[target] = volume
    return found


def is_database(service: Mapping[str, Any]) -> bool:
    return str(service.get("image", "")).startswith("postgres")


def one_shot_services(services: Mapping[str, Any]) -> set[str]:
    """Services some other service waits on to complete."""
    return {
        name
        for service in services.values()
        for name, dependency in service.get("depends_on", {}).items()
        if dependency.get("condition") == "service_completed_successfully"
    }


def start_order(services: Mapping[str, Any]) -> list[str]:
    """Services ordered so that each comes after everything it depends on."""
    order: list[str] = []
    while len(order) < len(services):
        ready = [
            name
            for name, service in services.items()
            if name not in order and set(service.get("depends_on", {})) <= set(order)
        ]
        assert ready, f"a dependency cycle among {set(services) - set(order)}"
        order.extend(sorted(ready))
    return order


def konsort_script() -> str:
    """The `konsort` console script of the virtualenv running this test."""
    return str(Path(sys.executable).parent / "konsort")


@dataclass
class LocalCompose:
    """The compose file's services as local processes under ``root``."""

    compose: dict[str, Any]
    dockerfile: Dockerfile
    root: Path
    database_urls: dict[str, str]  # PostgreSQL service -> URL of its local database
    ports: dict[str, int] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, service in self.services.items():
            if "ports" in service:
                self.ports[name] = free_port()

    @property
    def services(self) -> dict[str, Any]:
        found: dict[str, Any] = self.compose["services"]
        return found

    def volume(self, name: str) -> Path:
        path = self.root / "volumes" / name
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return path

    def url(self, service: str) -> str:
        return f"http://{HOST}:{self.ports[service]}"

    def _mounts(self, name: str) -> dict[str, str]:
        """The service's named volumes, and an anonymous one for each VOLUME of the
        image that no named volume covers (as Docker gives it)."""
        found = mounts(self.services[name])
        for path in self.dockerfile.volumes():
            found.setdefault(path, f"anonymous-{name}")
        return found

    def _translate(self, text: str, name: str) -> str:
        for target, volume in sorted(self._mounts(name).items(), key=lambda m: -len(m[0])):
            text = re.sub(rf"{re.escape(target)}(?=/|$|\s)", str(self.volume(volume)), text)
        for name, port in self.ports.items():
            text = text.replace(f"http://{name}:{CONTAINER_PORT}", f"http://{HOST}:{port}")
        return text

    def environment(self, name: str) -> dict[str, str]:
        service = self.services[name]
        image_env = {k: v for k, v in self.dockerfile.env().items() if k.startswith("KONSORT_")}
        declared = {**image_env, **{k: str(v) for k, v in service.get("environment", {}).items()}}
        env = child_env(**{k: self._translate(v, name) for k, v in declared.items()})
        database = env.get("KONSORT_DATABASE_URL")
        if database:
            host = make_url(database).host
            assert host in self.database_urls, f"{name}: database host {host} is no db service"
            env["KONSORT_DATABASE_URL"] = self.database_urls[str(host)]
        env["KONSORT_HOST"] = HOST
        if name in self.ports:
            env["KONSORT_PORT"] = str(self.ports[name])
        return env

    def argv(self, name: str) -> list[str]:
        service = self.services[name]
        entrypoint = self.dockerfile.exec_form("ENTRYPOINT")
        command = service.get("command") or self.dockerfile.exec_form("CMD")
        args = [self._translate(str(part), name) for part in [*entrypoint, *command]]
        return [konsort_script() if args[0] == "konsort" else args[0], *args[1:]]

    def exec(self, name: str, *args: str) -> str:
        """``docker compose exec <name> konsort ...``: its stdout."""
        completed = subprocess.run(
            [konsort_script(), *args],
            env=self.environment(name),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert completed.returncode == 0, f"{name}: konsort {args}: {completed.stderr}"
        return completed.stdout

    def run_to_completion(self, name: str) -> None:
        completed = subprocess.run(
            self.argv(name),
            env=self.environment(name),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert completed.returncode == 0, f"{name} failed:\n{completed.stdout}{completed.stderr}"

    def start(self, name: str) -> None:
        log = open(self.root / f"{name}.log", "ab")  # noqa: SIM115 - closed after the child ends
        self.processes[name] = subprocess.Popen(
            dying_with_parent(self.argv(name)),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.environment(name),
        )
        log.close()

    def healthy(self, name: str) -> bool:
        """The service's own healthcheck command, run once: exit status 0."""
        test = self.services[name]["healthcheck"]["test"]
        assert test[0] == "CMD", f"{name}: healthcheck in exec form"
        args = [self._translate(str(part), name) for part in test[1:]]
        argv = [konsort_script() if args[0] == "konsort" else args[0], *args[1:]]
        done = subprocess.run(
            argv, env=self.environment(name), capture_output=True, timeout=30, check=False
        )
        return done.returncode == 0

    def wait_healthy(self, name: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            process = self.processes[name]
            if process.poll() is not None:
                raise AssertionError(f"{name} exited:\n{self.log_tail(name)}")
            if self.healthy(name):
                return
            time.sleep(0.2)
        raise AssertionError(f"{name} not healthy after {timeout:.0f} s:\n{self.log_tail(name)}")

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.root / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def up(self) -> None:
        """Every service in dependency order, each condition honoured: a database
        service is its local database; a one-shot runs to success; a long-running
        one starts and is waited on through its healthcheck when someone needs it
        healthy."""
        one_shots = one_shot_services(self.services)
        for name in start_order(self.services):
            service = self.services[name]
            if is_database(service):
                assert name in self.database_urls, f"no local database for {name}"
                continue
            for dependency, rule in service.get("depends_on", {}).items():
                if rule["condition"] == "service_healthy" and dependency in self.processes:
                    self.wait_healthy(dependency)
            if name in one_shots:
                self.run_to_completion(name)
            else:
                self.start(name)
        for name in self.processes:
            self.wait_healthy(name)

    def down(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
