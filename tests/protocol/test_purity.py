"""protocol/ is pure: no service libraries, no clock, no environment, no I/O."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

PROTOCOL_DIR = Path(__file__).resolve().parents[2] / "protocol"
FORBIDDEN_MODULES = ["starlette", "sqlmodel", "sqlalchemy", "httpx", "uvicorn", "node"]

# Modules whose import in protocol/ would mean a clock, the environment,
# files, processes or the network.
FORBIDDEN_IMPORTS = {
    "time",
    "datetime",
    "os",
    "pathlib",
    "socket",
    "subprocess",
    "random",
    "secrets",
    "sqlite3",
    "urllib",
    "http",
    "asyncio",
    "logging",
    "tempfile",
    "shutil",
    "uuid",
}


def test_importing_protocol_loads_no_service_library() -> None:
    code = (
        "import json, sys\n"
        "import protocol, protocol.vectors\n"
        f"names = {FORBIDDEN_MODULES!r}\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in names)\n"
        "print(json.dumps(loaded))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    )
    assert json.loads(result.stdout) == []


def test_the_subprocess_check_would_notice_an_import() -> None:
    code = (
        "import json, sys\n"
        "import protocol, httpx\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'httpx')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    )
    assert "httpx" in json.loads(result.stdout)


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _calls_open(path: Path) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return any(
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "open"
        for node in ast.walk(tree)
    )


def test_no_module_reads_a_clock_the_environment_or_the_network() -> None:
    sources = sorted(PROTOCOL_DIR.rglob("*.py"))
    assert len(sources) > 10
    for path in sources:
        bad = _imported_modules(path) & FORBIDDEN_IMPORTS
        assert not bad, f"{path.relative_to(PROTOCOL_DIR)} imports {sorted(bad)}"


def test_only_the_vectors_entry_point_writes_a_file() -> None:
    writers = [p.relative_to(PROTOCOL_DIR).as_posix() for p in PROTOCOL_DIR.rglob("*.py")]
    writers = [w for w in writers if _calls_open(PROTOCOL_DIR / w)]
    assert writers == ["vectors/__main__.py"]
