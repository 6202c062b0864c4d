"""SQL for background jobs (node.store.job_models). No rules here."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from node.store.job_models import BackgroundJob


def insert_job(*, session: Session, job: BackgroundJob) -> None:
    session.add(job)
    session.flush()


def job_by_public_id(*, session: Session, public_id: str) -> BackgroundJob | None:
    return session.exec(select(BackgroundJob).where(BackgroundJob.public_id == public_id)).first()


def claim_job(*, session: Session, public_id: str, now: datetime) -> bool:
    """Move a queued job to running; False when another process took it first."""
    result = session.execute(
        update(BackgroundJob)
        .where(col(BackgroundJob.public_id) == public_id, col(BackgroundJob.state) == "queued")
        .values(state="running", started_at=now, heartbeat_at=now)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def update_job(*, session: Session, public_id: str, **values: object) -> None:
    session.execute(
        update(BackgroundJob).where(col(BackgroundJob.public_id) == public_id).values(**values)
    )


def queued_before(*, session: Session, before: datetime, limit: int) -> list[str]:
    """Queued jobs created before ``before``, oldest first (left by a process that stopped)."""
    rows = session.exec(
        select(BackgroundJob.public_id)
        .where(col(BackgroundJob.state) == "queued", col(BackgroundJob.created_at) < before)
        .order_by(col(BackgroundJob.created_at))
        .limit(limit)
    ).all()
    return list(rows)


def fail_stale(*, session: Session, silent_since: datetime, now: datetime) -> int:
    """Mark running jobs whose heartbeat stopped at or before ``silent_since`` as failed."""
    result = session.execute(
        update(BackgroundJob)
        .where(
            col(BackgroundJob.state) == "running",
            col(BackgroundJob.heartbeat_at) <= silent_since,
        )
        .values(state="failed", error="stopped: the node process ended", finished_at=now)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def prune_finished(*, session: Session, before: datetime) -> None:
    session.execute(
        delete(BackgroundJob).where(
            col(BackgroundJob.finished_at).is_not(None), col(BackgroundJob.finished_at) < before
        )
    )
