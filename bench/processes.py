"""Child processes of the bench: servers that are always stopped, on loopback only.

:func:`serving` starts a server, waits until a URL answers 200 and, however
the block is left (an error, Ctrl-C, SIGTERM turned into SystemExit by
``bench.__main__``), stops it: SIGTERM, then SIGKILL after a grace period. On
Linux every long-running child (servers, the load generator) is started
through a four-line launcher that asks the kernel for SIGKILL when the bench
process dies (``PR_SET_PDEATHSIG``, kept across exec) and then execs the real
command, so no child outlives even a bench killed with SIGKILL.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

HOST = "127.0.0.1"
#: Children run from here, so ``python -m bench.<module>`` finds this package.
REPO_ROOT = Path(__file__).resolve().parents[1]
# argv: parent pid, command... ; prctl(PR_SET_PDEATHSIG=1, SIGKILL=9), then exec.
_LAUNCHER = (
    "import ctypes, os, sys\n"
    "ctypes.CDLL(None).prctl(1, 9)\n"
    "if os.getppid() != int(sys.argv[1]): sys.exit(1)\n"
    "os.execvp(sys.argv[2], sys.argv[2:])\n"
)


def free_port() -> int:
    """A TCP port on loopback that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def dying_with_parent(args: Sequence[str]) -> list[str]:
    """``args`` wrapped so that the process gets SIGKILL when this one dies (Linux)."""
    if not sys.platform.startswith("linux"):
        return list(args)
    return [sys.executable, "-c", _LAUNCHER, str(os.getpid()), *args]


def run_command(args: Sequence[str], *, env: dict[str, str] | None = None) -> str:
    """Run a short command to completion; its stdout, or an error with its stderr."""
    completed = subprocess.run(
        list(args), capture_output=True, text=True, env=env, check=False, timeout=120
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:4])} ... failed:\n{completed.stderr.strip()}")
    return completed.stdout


def _stop(process: subprocess.Popen[bytes], grace: float = 15.0) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _log_tail(log: Path, lines: int = 20) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _wait_ready(process: subprocess.Popen[bytes], url: str, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}:\n{_log_tail(log)}")
            try:
                if client.get(url).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
    raise RuntimeError(f"server not ready at {url} after {timeout:.0f} s:\n{_log_tail(log)}")


@contextmanager
def serving(
    args: Sequence[str],
    *,
    ready_url: str,
    log: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 60.0,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``args`` as a server (output to ``log``) until the block ends."""
    with open(log, "ab") as output:
        process = subprocess.Popen(
            dying_with_parent(args),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
        )
    try:
        _wait_ready(process, ready_url, log, timeout)
        yield process
    finally:
        _stop(process)


def child_env(**extra: str) -> dict[str, str]:
    """The environment for children: ours, minus anything that would redirect a node."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KONSORT_")}
    env.update(extra)
    return env
