"""Several delivery workers on one database (several node processes on one
PostgreSQL) never send one message at the same time."""

from __future__ import annotations

import asyncio
import uuid

import httpx

from node.services.federation_handlers import ANSWER_HANDLERS
from node.services.outbox import deliver_outbox
from tests.node.federation.conftest import Consortium


class Counting(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.sent: list[bytes] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(await request.aread())
        return await self.inner.handle_async_request(request)


def test_two_workers_share_the_outbox_without_sending_twice(consortium: Consortium) -> None:
    cafe, bookshop = consortium["cafe"], consortium["bookshop"]
    ann_cafe, ann_books = cafe.enrol(), bookshop.enrol()
    cafe.earn(ann_cafe, 1_000_000)
    consortium.link("cafe", ann_cafe, "bookshop", ann_books)
    for _ in range(30):
        moved = cafe.client.post(
            "/api/v1/me/transfers",
            json={"partner": "bookshop", "points": 12},
            headers={**cafe.token(ann_cafe), "Idempotency-Key": str(uuid.uuid4())},
        )
        assert moved.status_code == 202
    counting = Counting(consortium.router)

    async def two_workers() -> list[int]:
        async with httpx.AsyncClient(transport=counting) as client:
            reports = await asyncio.gather(
                *(
                    deliver_outbox(
                        cafe.db,
                        cafe.federation,
                        client=client,
                        clock=consortium.clock,
                        answer_handlers=ANSWER_HANDLERS,
                        limit=20,
                    )
                    for _ in range(2)
                )
            )
        return [report.answered for report in reports]

    asyncio.run(two_workers())
    # Never-sent transfers travel folded into transfer.batch messages; across both
    # workers every transfer went out in exactly one message, and only once.
    items = [item for token in counting.sent for item in _items(token)]
    assert len(counting.sent) == len(set(counting.sent)) and 2 <= len(counting.sent) <= 4
    assert len(items) == 30 and len(set(items)) == 30
    assert bookshop.balance(ann_books) == 30 * 5
    mine = cafe.client.get("/api/v1/me/transfers", headers=cafe.token(ann_cafe)).json()["items"]
    assert [op["status"] for op in mine] == ["accepted"] * 30


def _items(token: bytes) -> list[str]:
    import base64
    import json

    payload = token.split(b".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4)))
    if claims["typ"] == "transfer.batch":
        return [item["item"] for item in claims["body"]["transfers"]]
    return [claims["jti"]]
