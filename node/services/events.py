"""Program events for webhooks, written in the same transaction as their cause.

An event row is the outbox: if the change commits, the event exists; if it
rolls back, so does the event. node.services.webhooks fans events out to the
subscribed endpoints and delivers them with retries. Payloads carry ids and
figures only, never personal data.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlmodel import Session

from node.ids import new_id
from node.program.config import EVENT_TYPES
from node.store.sql import raw


def record_event_txn(*, session: Session, type: str, payload: dict[str, Any], now: datetime) -> str:
    """Queue an event; returns its public id (``evt_...``)."""
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type!r}")
    public_id = new_id("evt")
    sql = raw(session)
    sql.execute(
        "INSERT INTO webhook_event (public_id, type, payload, created_at, fanned_out)"
        " VALUES (?, ?, ?, ?, ?)",
        (
            public_id,
            type,
            json.dumps(payload, sort_keys=True, separators=(",", ":")),
            sql.time(now),
            False,
        ),
    )
    return public_id
