"""Long actions of the admin UI as background jobs: a retention run, the ledger CSV.

A page starts a job (:func:`start_job_unit`, idempotent per form key, so a
double submit names the same job) and answers at once with a link to the
job's status page; the work runs after the answer (:func:`run_job`, in a
worker thread of the same process). Every step of progress (done of total)
and the outcome are written to the job's row (``background_job``), so any
process of the node behind one database shows the same status.

A job runs once: :func:`run_job` first moves it from ``queued`` to
``running`` in one UPDATE, and only the process that did so runs it. A job
left ``queued`` by a process that stopped before it began is started by the
next look at its status (:func:`job_status`, after ``RESUME_AFTER``); a
``running`` job whose heartbeat stopped for ``STALE_AFTER`` is marked failed
(the work itself is idempotent: a retention run applies each item once, an
export is read-only, so starting again is safe).

Kinds (``KINDS``): ``retention`` (params ``dry_run``; the result is the
retention run it recorded) and ``ledger_csv`` (params ``first`` and ``last``,
ISO dates; the result is the CSV file, kept in the row until
``KEEP_RESULTS`` after it finished). No job holds personal data.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import Session

from node.clock import Clock
from node.db import Database
from node.errors import NotFound, ValidationFailed
from node.ids import new_id
from node.progress import Progress
from node.services import ledger_export, retention
from node.services.federation import Federation
from node.services.idempotency import Answer, Unit, idempotent_unit
from node.settings import Settings
from node.store import jobs as store
from node.store.job_models import BackgroundJob

log = logging.getLogger("konsort.background_jobs")

RESUME_AFTER = timedelta(seconds=30)
STALE_AFTER = timedelta(minutes=10)
KEEP_RESULTS = timedelta(days=7)
#: About this many progress writes per job.
PROGRESS_STEPS = 50


@dataclass(frozen=True)
class JobResult:
    ref: str | None = None
    content: bytes | None = None
    name: str | None = None
    media_type: str | None = None


@dataclass(frozen=True)
class JobEnv:
    """What a job's work gets: the node's parts and the job's progress."""

    db: Database
    settings: Settings
    clock: Clock
    fed: Federation | None
    params: dict[str, Any]
    actor: str
    progress: JobProgress


class JobProgress:
    """Counts done of total and writes them to the job's row every few steps."""

    def __init__(self, db: Database, job_id: str, clock: Clock) -> None:
        self._db, self._job_id, self._clock = db, job_id, clock
        self.done = 0
        self.total = 0
        self._written = 0

    def add_total(self, amount: int) -> None:
        self.total += amount
        self.flush()

    def advance(self, amount: int = 1) -> None:
        self.done += amount
        if self.done - self._written >= max(1, self.total // PROGRESS_STEPS):
            self.flush()

    def flush(self) -> None:
        done, total, now = self.done, max(self.total, self.done), self._clock.now()

        def write(session: Session) -> None:
            store.update_job(
                session=session, public_id=self._job_id, done=done, total=total, heartbeat_at=now
            )

        self._db.write(write)
        self._written = done


Work = Callable[[JobEnv], JobResult]


def _retention(env: JobEnv) -> JobResult:
    dry_run = bool(env.params["dry_run"])

    @contextmanager
    def bars(total: int | None, desc: str, unit: str) -> Iterator[Progress]:
        env.progress.add_total(total or 0)
        yield env.progress

    run = retention.run_retention(
        env.db,
        env.settings,
        clock=env.clock,
        dry_run=dry_run,
        trigger="ui",
        actor=env.actor,
        progress=bars,
        fed=env.fed,
    )
    return JobResult(ref=run.public_id)


def _ledger_days(params: dict[str, Any]) -> tuple[date, date]:
    first, last = date.fromisoformat(params["first"]), date.fromisoformat(params["last"])
    ledger_export.day_range(first, last)
    return first, last


def _ledger_csv(env: JobEnv) -> JobResult:
    first, last = _ledger_days(env.params)
    env.progress.add_total(ledger_export.entry_count(env.db, first=first, last=last))
    lines = ledger_export.ledger_csv(env.db, first=first, last=last)
    parts = [next(lines)]
    for line in lines:
        parts.append(line)
        env.progress.advance()
    return JobResult(
        content="".join(parts).encode(),
        name=f"ledger-{first}-{last}.csv",
        media_type="text/csv; charset=utf-8",
    )


KINDS: dict[str, Work] = {"retention": _retention, "ledger_csv": _ledger_csv}


def _check_params(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    if kind == "retention":
        return {"dry_run": bool(params.get("dry_run"))}
    if kind == "ledger_csv":
        first, last = _ledger_days(params)
        return {"first": first.isoformat(), "last": last.isoformat()}
    raise ValidationFailed(f"kind: one of {', '.join(KINDS)}", field="kind")


def start_job_unit(
    *, kind: str, params: dict[str, Any], actor: str, idempotency_key: str, now: datetime
) -> Unit:
    """Queue a job once per key (a repeat answers with the same job id)."""
    checked = _check_params(kind, params)

    def work(session: Session) -> Answer:
        store.prune_finished(session=session, before=now - KEEP_RESULTS)
        job_id = new_id("job")
        store.insert_job(
            session=session,
            job=BackgroundJob(
                public_id=job_id,
                kind=kind,
                params=json.dumps(checked, sort_keys=True),
                state="queued",
                actor=actor[:60],
                created_at=now,
            ),
        )
        return Answer(201, {"id": job_id})

    return idempotent_unit(
        key=idempotency_key,
        operation="job.start",
        request={"kind": kind, "params": checked},
        now=now,
        work=work,
    )


def run_job(
    db: Database, settings: Settings, *, job_id: str, clock: Clock, fed: Federation | None
) -> None:
    """Claim and run a queued job to its end; a job another process claimed is left alone."""
    if not db.write(lambda s: store.claim_job(session=s, public_id=job_id, now=clock.now())):
        return
    job = get_job(db, job_id=job_id)
    progress = JobProgress(db, job_id, clock)
    env = JobEnv(db, settings, clock, fed, json.loads(job.params), job.actor, progress)
    values: dict[str, object]
    try:
        result = KINDS[job.kind](env)
    except Exception as exc:
        log.exception("background job failed", extra={"job": job_id, "kind": job.kind})
        values = {"state": "failed", "error": type(exc).__name__[:200]}
    else:
        values = {
            "state": "done",
            "result_ref": result.ref,
            "result": result.content,
            "result_name": result.name,
            "result_type": result.media_type,
        }
    done, total, now = progress.done, max(progress.total, progress.done), clock.now()
    values |= {"done": done, "total": total, "finished_at": now, "heartbeat_at": now}
    db.write(lambda s: store.update_job(session=s, public_id=job_id, **values))


def get_job(db: Database, *, job_id: str) -> BackgroundJob:
    if len(job_id) > 40:
        raise NotFound("no such job", field="id")
    with db.read() as session:
        job = store.job_by_public_id(session=session, public_id=job_id)
    if job is None:
        raise NotFound("no such job", field="id")
    return job


def job_status(db: Database, *, job_id: str, now: datetime) -> tuple[BackgroundJob, bool]:
    """The job, and whether it was left queued and should be started again here.

    A running job silent for ``STALE_AFTER`` is marked failed first."""
    job = get_job(db, job_id=job_id)
    if job.state == "running" and job.heartbeat_at and now - job.heartbeat_at >= STALE_AFTER:
        db.write(lambda s: store.fail_stale(session=s, silent_since=now - STALE_AFTER, now=now))
        job = get_job(db, job_id=job_id)
    return job, job.state == "queued" and now - job.created_at >= RESUME_AFTER


def job_params(job: BackgroundJob) -> dict[str, Any]:
    params: dict[str, Any] = json.loads(job.params)
    return params
