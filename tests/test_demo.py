"""`make demo` (python -m node.demo): three real nodes come up, serve, and stop on Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port_base(count: int = 3) -> int:
    for base in range(20_100, 40_000, 17):
        ports = range(base, base + count)
        if all(_free(port) for port in ports):
            return base
    raise RuntimeError("no free ports")


def _free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_demo_starts_three_seeded_nodes_and_stops_cleanly(tmp_path: Path) -> None:
    base = free_port_base()
    process = subprocess.Popen(
        [sys.executable, "-m", "node.demo", "--dir", str(tmp_path), "--port-base", str(base)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 60
        assert process.stdout is not None
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.strip() == "demo ready":
                break
        output = "".join(lines)
        assert "demo ready" in output, output
        rows = re.findall(r"^\s+(cafe|bookshop|charity)\s+(http://\S+)\s+(ksk_\S+)$", output, re.M)
        assert [row[0] for row in rows] == ["cafe", "bookshop", "charity"]
        for _, url, key in rows:
            assert httpx.get(f"{url}/readyz").json()["status"] == "ready"
            found = httpx.post(
                f"{url}/api/v1/customers/lookup",
                json={"email": "ada@example.org"},
                headers={"Authorization": f"Bearer {key}"},
            )
            customer = found.json()["customer_id"]
            balance = httpx.get(
                f"{url}/api/v1/customers/{customer}/balance",
                headers={"Authorization": f"Bearer {key}"},
            )
            assert balance.json()["points"] == 450
        process.send_signal(signal.SIGINT)
        remaining, _ = process.communicate(timeout=30)
        assert process.returncode == 0
        assert "stopped" in remaining
        for port in range(base, base + 3):
            assert _free(port)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
