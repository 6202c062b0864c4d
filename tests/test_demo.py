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
        # Each node prints one staff login per role; the café operator's works.
        staff = re.findall(r"^\s+staff (\w+)\s+(http://\S+/admin/)\s+(.+)$", output, re.M)
        assert [row[0] for row in staff] == ["cafe", "bookshop", "charity"]
        logins = staff[0][2].split()
        assert logins[0::2] == ["operator", "privacy-officer", "auditor"]
        with httpx.Client(base_url=staff[0][1].removesuffix("/admin/")) as browser:
            signed_in = browser.post(
                "/admin/login",
                data={"username": logins[0], "password": logins[1]},
                headers={"Origin": str(browser.base_url).rstrip("/")},
            )
            assert signed_in.status_code == 303, signed_in.text
            assert browser.get("/admin/dashboard").status_code == 200
        portal = re.search(r"^\s+(http://\S+/me/signin/\S+)$", output, re.M)
        assert portal is not None, output
        assert httpx.get(portal.group(1)).status_code == 200
        # Ada is the ready customer: linked at the café and the bookshop, so her
        # café points move to the bookshop.
        (_, cafe_url, cafe_key), (_, books_url, books_key) = rows[0], rows[1]
        ada = re.search(r"café id\s+(cus_\w+)", output)
        ada_books = re.search(r"bookshop id\s+(cus_\w+)", output)
        assert ada is not None and ada_books is not None, output
        minted = httpx.post(
            f"{cafe_url}/api/v1/customers/{ada.group(1)}/tokens",
            headers={"Authorization": f"Bearer {cafe_key}"},
        )
        token = {"Authorization": f"Bearer {minted.json()['token']}"}
        links = httpx.get(f"{cafe_url}/api/v1/me/links", headers=token).json()["items"]
        assert [(link["partner"], link["status"]) for link in links] == [("bookshop", "active")]
        moved = httpx.post(
            f"{cafe_url}/api/v1/me/transfers",
            json={"partner": "bookshop", "points": 200},
            headers={**token, "Idempotency-Key": "demo-test-move"},
        )
        assert moved.status_code == 202, moved.text
        books_balance = f"{books_url}/api/v1/customers/{ada_books.group(1)}/balance"
        books_auth = {"Authorization": f"Bearer {books_key}"}
        deadline = time.monotonic() + 20
        while httpx.get(books_balance, headers=books_auth).json()["points"] == 450:
            assert time.monotonic() < deadline, "the transfer did not arrive"
            time.sleep(0.1)
        assert httpx.get(books_balance, headers=books_auth).json()["points"] == 450 + 83
        # She redeems the bookshop's partner reward with café points, and donates.
        redeemed = httpx.post(
            f"{cafe_url}/api/v1/me/partner-redemptions",
            json={"partner": "bookshop", "reward": "book-voucher-50"},
            headers={**token, "Idempotency-Key": "demo-test-reward"},
        )
        assert redeemed.status_code == 202, redeemed.text
        donated = httpx.post(
            f"{cafe_url}/api/v1/me/donations",
            json={"charity": "charity", "points": 100},
            headers={**token, "Idempotency-Key": "demo-test-donation"},
        )
        assert donated.status_code == 202, donated.text

        def settled(path: str) -> list[str]:
            items = httpx.get(f"{cafe_url}{path}", headers=token).json()["items"]
            return [item["status"] for item in items]

        deadline = time.monotonic() + 20
        while settled("/api/v1/me/partner-vouchers") + settled("/api/v1/me/donations") != [
            "accepted",
            "accepted",
        ]:
            assert time.monotonic() < deadline, "the reward or the donation was not answered"
            time.sleep(0.1)
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
