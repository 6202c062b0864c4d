"""SIGTERM: in-flight requests finish and stay written; the outbox resumes after a restart."""

from __future__ import annotations

import signal
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.node.federation.faults import (
    Record,
    Till,
    enrol_people,
    link_people,
    running,
    set_up_network,
    wait_delivered,
)

pytestmark = pytest.mark.slow

PURCHASES = 40


def test_sigterm_keeps_answered_requests_and_the_outbox_resumes_on_start(tmp_path: Path) -> None:
    cafe, bookshop = set_up_network(
        tmp_path, (("cafe", "business", 50), ("bookshop", "business", 100))
    )
    till = Till({"cafe": cafe, "bookshop": bookshop})
    with running([cafe, bookshop]):
        (person,) = enrol_people(till, Record(), 1, funding=10_000)
        link_people(till, [person])
        bookshop.stop()  # the partner is away: the transfer waits in cafe's outbox
        sent = till.call("cafe", "POST", "/api/v1/me/transfers",
                         json_body={"partner": "bookshop", "points": 25},
                         token=person.tokens["cafe"], key=str(uuid.uuid4()))  # fmt: skip
        till.expect(202, sent)

        customer = person.accounts["cafe"]
        keys = [str(uuid.uuid4()) for _ in range(PURCHASES)]

        def purchase(key: str) -> tuple[str, httpx.Response | None]:
            try:
                with httpx.Client(timeout=30) as client:
                    return key, client.post(
                        f"{cafe.url}/api/v1/customers/{customer}/purchases",
                        json={"amount": 100},
                        headers={
                            "Authorization": f"Bearer {cafe.api_key}",
                            "Idempotency-Key": key,
                        },
                    )
            except httpx.TransportError:
                return key, None  # refused once the process stopped listening

        with ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(purchase, key) for key in keys]
            futures[8].result()  # requests are flowing
            assert cafe.process is not None
            cafe.process.send_signal(signal.SIGTERM)
            answered = [future.result() for future in futures]
        # uvicorn re-raises the signal once it has shut down cleanly.
        assert cafe.process.wait(timeout=60) in (0, -signal.SIGTERM)
        finished = {key: r for key, r in answered if r is not None and r.status_code == 201}
        assert all(r is None or r.status_code in (201, 503) for _, r in answered), [
            r.text for _, r in answered if r is not None and r.status_code not in (201, 503)
        ]
        assert finished  # some requests were answered before the shutdown

        bookshop.start()
        cafe.start()
        bookshop.wait_ready()
        cafe.wait_ready()
        # Every answered purchase is durable: its key replays the same transaction.
        for key, first in finished.items():
            _, again = purchase(key)
            assert again is not None and again.status_code == 201
            assert again.json()["transaction"]["id"] == first.json()["transaction"]["id"]
        # The queued transfer is delivered after the restart.
        wait_delivered(till, timeout=60)
        balance = till.call(
            "bookshop", "GET", "/api/v1/me/balance", token=person.tokens["bookshop"]
        )
        assert till.expect(200, balance)["points"] > 0
    till.client.close()
