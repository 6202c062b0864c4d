"""SQL for the alerting gauges (node.services.health_metrics): counts only, no personal data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlmodel import Session

from node.store.federation_models import OutboxMessage
from node.store.program_models import WebhookDelivery
from node.store.request_models import SubjectRequest
from node.store.settlement_models import SettlementPeriodRecord
from node.store.subject_requests import OPEN_STATES
from node.store.webhooks import FAILED as WEBHOOK_FAILED

OUTBOX_PENDING = "pending"
SETTLEMENT_DISPUTED = "disputed"

outbox_t = OutboxMessage.__table__  # type: ignore[attr-defined]
webhook_t = WebhookDelivery.__table__  # type: ignore[attr-defined]
request_t = SubjectRequest.__table__  # type: ignore[attr-defined]
period_t = SettlementPeriodRecord.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class OutboxBacklog:
    destination: str
    pending: int
    #: Pending messages whose last attempt failed (they are being retried).
    retrying: int
    oldest_created_at: datetime


def outbox_backlog(*, session: Session) -> list[OutboxBacklog]:
    rows = session.execute(
        select(
            outbox_t.c.destination,
            func.count(),
            func.count(outbox_t.c.last_error),
            func.min(outbox_t.c.created_at),
        )
        .where(outbox_t.c.status == OUTBOX_PENDING)
        .group_by(outbox_t.c.destination)
    ).all()
    return [OutboxBacklog(dest, int(n), int(failing), oldest) for dest, n, failing, oldest in rows]


def failed_webhook_deliveries(*, session: Session) -> int:
    return int(
        session.execute(
            select(func.count()).select_from(webhook_t).where(webhook_t.c.status == WEBHOOK_FAILED)
        ).scalar_one()
    )


def overdue_subject_requests(*, session: Session, now: datetime) -> int:
    return int(
        session.execute(
            select(func.count())
            .select_from(request_t)
            .where(request_t.c.state.in_(OPEN_STATES), request_t.c.due_at < now)
        ).scalar_one()
    )


def disputed_settlement_periods(*, session: Session) -> int:
    return int(
        session.execute(
            select(func.count())
            .select_from(period_t)
            .where(period_t.c.status == SETTLEMENT_DISPUTED)
        ).scalar_one()
    )
