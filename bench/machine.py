"""A description of the machine and software a bench ran on, for the report."""

from __future__ import annotations

import os
import platform
import sqlite3
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _package(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def describe() -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "cpu": _cpu_model(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "packages": {
            name: _package(name)
            for name in ("uvicorn", "uvloop", "httptools", "starlette", "sqlalchemy", "psycopg")
        },
    }


def summary(machine: dict[str, Any]) -> str:
    packages = machine["packages"]
    servers = ", ".join(f"{name} {v}" for name, v in packages.items() if v)
    return (
        f"{machine['cores']} cores ({machine['cpu']}), {machine['platform']}\n"
        f"Python {machine['python']}, SQLite {machine['sqlite']}; {servers}"
    )
