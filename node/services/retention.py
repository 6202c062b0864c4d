"""Retention: policies per data category, dry runs, runs in batches, run records.

A **category** is a kind of data with a legal reason to keep it for a while
and a way to get rid of it (``delete`` or ``anonymise``). It brings two
functions run in a transaction the caller owns (node.services.retention_categories
describes the contract): ``due(*, session, cutoff, limit)`` lists opaque ids past
retention, oldest first; ``apply(*, session, ids, now)`` removes them and says
how many changed. A **policy** is a category plus a duration from the settings
(``retention_*``; 0 keeps the data).

A run goes category by category. A dry run only counts and lists the first
ids; a real run takes ``retention_batch_size`` items per write transaction
until none is due, so no run holds one huge transaction and a crash loses at
most one batch of work. Every run is recorded in ``retention_run`` (who, when,
how many per category, the error if it stopped). Applying is idempotent, so a
repeated run, or runs in two processes at once, remove each item once.

Categories whose functions live in other parts (consent records, request
records, the audit log) are given them with :func:`register` at the bottom of
this module; a declared category without functions is listed as
``unavailable`` and skipped.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

from sqlmodel import Session

from node.clock import Clock, isoformat
from node.db import Database
from node.errors import NotFound, ValidationFailed
from node.ids import new_id
from node.progress import Progress
from node.services import audit, consent, subject_requests
from node.services import retention_categories as builtin
from node.services.federation import Federation
from node.services.idempotency import Answer, Unit, idempotent_unit
from node.settings import Settings
from node.store import retention as store
from node.store.retention_models import RetentionRun

log = logging.getLogger("konsort.retention")

Action = Literal["delete", "anonymise"]
Trigger = Literal["schedule", "cli", "api", "ui"]
#: How many ids a dry run lists per category.
SAMPLE_SIZE = 20


class DueFn(Protocol):
    def __call__(self, *, session: Session, cutoff: datetime, limit: int) -> list[str]: ...


class ApplyFn(Protocol):
    def __call__(self, *, session: Session, ids: Sequence[str], now: datetime) -> int: ...


class CountFn(Protocol):
    def __call__(self, *, session: Session, cutoff: datetime) -> int: ...


ProgressFactory = Callable[[int | None, str, str], AbstractContextManager[Progress]]


@dataclass(frozen=True)
class Category:
    name: str
    description: str
    #: Why it is kept as long as it is (the legal reason), and what remains after.
    reason: str
    action: Action
    #: The setting holding the duration (0 keeps the data).
    setting: str
    unit: Literal["days", "years"]
    #: What the progress bar counts.
    noun: str
    due: DueFn | None = None
    apply: ApplyFn | None = None
    count: CountFn | None = None
    #: ``apply`` also takes ``fed=`` (the node's federation, or None): erasing a
    #: member revokes their partner links and tells the partners.
    needs_federation: bool = False

    @property
    def available(self) -> bool:
        return self.due is not None and self.apply is not None


INACTIVE_CUSTOMERS = "inactive_customers"
WITHDRAWN_CONSENT = "withdrawn_consent"
SUBJECT_REQUESTS = "subject_requests"
AUDIT_LOG = "audit_log"
FEDERATION_MESSAGES = "federation_messages"
BOOKKEEPING_DETAILS = "bookkeeping_details"

_CATEGORIES: dict[str, Category] = {
    c.name: c
    for c in (
        Category(
            INACTIVE_CUSTOMERS,
            "Personal data of members with no transaction for the period",
            "Membership is the purpose; a member silent that long has in effect left. "
            "The data key and profile are shredded, the ledger keeps the opaque id.",
            "anonymise",
            "retention_inactive_customer_days",
            "days",
            "customers",
            due=builtin.inactive_customers_due_txn,
            apply=builtin.inactive_customers_apply_txn,
            count=builtin.inactive_customers_count_txn,
            needs_federation=True,
        ),
        Category(
            WITHDRAWN_CONSENT,
            "Consent records withdrawn longer ago than the period",
            "Proof that consent was given and withdrawn is kept for the limitation "
            "period of claims (3 years in Denmark and Norway).",
            "delete",
            "retention_withdrawn_consent_days",
            "days",
            "records",
        ),
        Category(
            SUBJECT_REQUESTS,
            "Data-subject request records closed longer ago than the period",
            "Proof that requests were answered in time, for the limitation period of claims.",
            "delete",
            "retention_subject_request_days",
            "days",
            "requests",
        ),
        Category(
            AUDIT_LOG,
            "Audit log rows older than the period",
            "Accountability for who saw or exported personal data (GDPR art. 5(2)).",
            "delete",
            "retention_audit_log_days",
            "days",
            "rows",
        ),
        Category(
            FEDERATION_MESSAGES,
            "Delivered protocol messages (inbox and answered outbox rows)",
            "Needed for de-duplication while a message can arrive again and as evidence "
            "until settlement with the partner agrees; rows of a period not yet agreed stay.",
            "delete",
            "retention_federation_message_days",
            "days",
            "messages",
            due=builtin.federation_messages_due_txn,
            apply=builtin.federation_messages_apply_txn,
            count=builtin.federation_messages_count_txn,
        ),
        Category(
            BOOKKEEPING_DETAILS,
            "Transaction details of erased members after the bookkeeping period",
            "Bookkeeping law (Denmark, Norway) keeps accounting records for five years "
            "after the financial year ends; then order refs, lines, vouchers, referrals, "
            "tiers and bonuses go. The append-only ledger keeps amounts under an opaque "
            "id whose key was destroyed.",
            "anonymise",
            "retention_bookkeeping_years",
            "years",
            "customers",
            due=builtin.bookkeeping_details_due_txn,
            apply=builtin.bookkeeping_details_apply_txn,
            count=builtin.bookkeeping_details_count_txn,
        ),
    )
}


def register(name: str, *, due: DueFn, apply: ApplyFn, count: CountFn | None = None) -> None:
    """Give a declared category its functions (parts built elsewhere call this)."""
    if name not in _CATEGORIES:
        raise KeyError(f"no retention category {name!r}")
    _CATEGORIES[name] = replace(_CATEGORIES[name], due=due, apply=apply, count=count)


def categories() -> list[Category]:
    return list(_CATEGORIES.values())


@dataclass(frozen=True)
class Policy:
    category: Category
    #: Days or years (the category's unit); 0 keeps the data for good.
    duration: int

    def cutoff(self, now: datetime) -> datetime | None:
        """Items older than this are due; None when the data is kept."""
        if self.duration == 0:
            return None
        if self.category.unit == "years":
            # The financial year is the calendar year: kept until the end of the
            # year of the last transaction plus ``duration`` years.
            return datetime(now.year - self.duration, 1, 1, tzinfo=UTC)
        return now - timedelta(days=self.duration)


def policies(settings: Settings) -> list[Policy]:
    return [Policy(c, int(getattr(settings, c.setting))) for c in categories()]


def policies_json(settings: Settings, *, now: datetime) -> list[dict[str, Any]]:
    found = []
    for policy in policies(settings):
        category, cutoff = policy.category, policy.cutoff(now)
        found.append(
            {
                "category": category.name,
                "description": category.description,
                "reason": category.reason,
                "action": category.action,
                "duration": policy.duration,
                "unit": category.unit,
                "setting": category.setting,
                "keeps_forever": policy.duration == 0,
                "available": category.available,
                "cutoff": isoformat(cutoff) if cutoff else None,
            }
        )
    return found


def _selected(settings: Settings, only: Sequence[str] | None) -> list[Policy]:
    chosen = policies(settings)
    if only:
        known = {p.category.name for p in chosen}
        for name in only:
            if name not in known:
                raise ValidationFailed(
                    f"unknown retention category {name!r}; one of {', '.join(sorted(known))}",
                    field="category",
                )
        chosen = [p for p in chosen if p.category.name in only]
    return chosen


@dataclass
class CategoryResult:
    category: str
    action: Action
    #: done, kept (duration 0) or unavailable (no functions registered).
    state: str
    cutoff: datetime | None = None
    due: int = 0
    applied: int = 0
    #: A dry run's first ids (opaque).
    sample: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "action": self.action,
            "state": self.state,
            "cutoff": isoformat(self.cutoff) if self.cutoff else None,
            "due": self.due,
            "applied": self.applied,
            "sample": self.sample,
        }


@contextmanager
def _no_progress(total: int | None, desc: str, unit: str) -> Iterator[Progress]:
    class _Silent:
        def advance(self, amount: int = 1) -> None:
            pass

    yield _Silent()


def _dry(db: Database, policy: Policy, cutoff: datetime) -> CategoryResult:
    category = policy.category
    assert category.due is not None
    with db.read() as session:
        sample = category.due(session=session, cutoff=cutoff, limit=SAMPLE_SIZE)
        total = (
            category.count(session=session, cutoff=cutoff)
            if category.count is not None
            else len(sample)
        )
    return CategoryResult(category.name, category.action, "done", cutoff, total, 0, sample)


def _apply(
    db: Database,
    policy: Policy,
    cutoff: datetime,
    *,
    now: datetime,
    batch: int,
    progress: ProgressFactory,
    fed: Federation | None,
) -> CategoryResult:
    category = policy.category
    due, apply = category.due, category.apply
    assert due is not None and apply is not None
    total = None
    if category.count is not None:
        with db.read() as session:
            total = category.count(session=session, cutoff=cutoff)
    result = CategoryResult(category.name, category.action, "done", cutoff)
    extra: dict[str, Any] = {"fed": fed} if category.needs_federation else {}

    def unit(session: Session) -> tuple[int, int]:
        ids = due(session=session, cutoff=cutoff, limit=batch)
        return len(ids), apply(session=session, ids=ids, now=now, **extra) if ids else 0

    with progress(total, category.name.replace("_", " "), category.noun) as bar:
        while True:
            found, applied = db.write(unit)
            result.due += found
            result.applied += applied
            bar.advance(found)
            # A short batch is the last; a batch that changed nothing would repeat.
            if found < batch or applied == 0:
                break
    return result


def start_run_txn(
    *, session: Session, dry_run: bool, trigger: Trigger, actor: str, now: datetime
) -> str:
    run_id = new_id("ret")
    store.insert_run(
        session=session, public_id=run_id, dry_run=dry_run, trigger=trigger, actor=actor, now=now
    )
    return run_id


def start_run_unit(
    *,
    dry_run: bool,
    categories: Sequence[str] | None,
    idempotency_key: str,
    now: datetime,
    actor: str,
    trigger: Trigger = "api",
) -> Unit:
    """The API's (and admin UI's) idempotent start: the same key names the same run,
    which runs once."""

    def work(session: Session) -> Answer:
        run_id = start_run_txn(
            session=session, dry_run=dry_run, trigger=trigger, actor=actor, now=now
        )
        return Answer(201, {"id": run_id})

    return idempotent_unit(
        key=idempotency_key,
        operation="retention.run",
        request={"dry_run": dry_run, "categories": list(categories or [])},
        now=now,
        work=work,
    )


def execute_run(
    db: Database,
    settings: Settings,
    *,
    run_id: str,
    clock: Clock,
    dry_run: bool,
    only: Sequence[str] | None = None,
    progress: ProgressFactory | None = None,
    fed: Federation | None = None,
) -> list[CategoryResult]:
    """Run the (selected) policies for a started run and record the outcome."""
    chosen = _selected(settings, only)
    now = clock.now()
    results: list[CategoryResult] = []
    error: str | None = None
    current = ""
    try:
        for policy in chosen:
            category = policy.category
            current = category.name
            cutoff = policy.cutoff(now)
            if not category.available:
                results.append(CategoryResult(category.name, category.action, "unavailable"))
            elif cutoff is None:
                results.append(CategoryResult(category.name, category.action, "kept"))
            elif dry_run:
                results.append(_dry(db, policy, cutoff))
            else:
                batch = settings.retention_batch_size
                bars = progress or _no_progress
                results.append(
                    _apply(db, policy, cutoff, now=now, batch=batch, progress=bars, fed=fed)
                )
    except Exception as exc:
        error = f"{current}: {type(exc).__name__}"
        raise
    finally:
        encoded = json.dumps([r.to_json() for r in results], separators=(",", ":"))
        finished = clock.now()

        def finish(session: Session) -> None:
            store.finish_run(
                session=session, public_id=run_id, categories=encoded, error=error, now=finished
            )

        db.write(finish)
    if not dry_run:
        applied = {r.category: r.applied for r in results if r.applied}
        if applied.get(INACTIVE_CUSTOMERS):
            db.scrub_wal()  # no old copy of an erased profile left in SQLite's WAL
        log.info("retention run", extra={"run": run_id, "applied": applied})
    return results


def run_retention(
    db: Database,
    settings: Settings,
    *,
    clock: Clock,
    dry_run: bool,
    trigger: Trigger,
    actor: str,
    only: Sequence[str] | None = None,
    progress: ProgressFactory | None = None,
    fed: Federation | None = None,
) -> RetentionRun:
    """Start, execute and record a run (the CLI and the scheduled job call this)."""
    _selected(settings, only)  # refuse an unknown category before recording anything
    started = clock.now()

    def start(session: Session) -> str:
        return start_run_txn(
            session=session, dry_run=dry_run, trigger=trigger, actor=actor, now=started
        )

    run_id = db.write(start)
    execute_run(
        db,
        settings,
        run_id=run_id,
        clock=clock,
        dry_run=dry_run,
        only=only,
        progress=progress,
        fed=fed,
    )
    return get_run(db, run_id=run_id)


def get_run(db: Database, *, run_id: str) -> RetentionRun:
    with db.read() as session:
        found = store.run_by_public_id(session=session, public_id=run_id)
    if found is None:
        raise NotFound("no such retention run", field="id")
    return found


def list_runs(db: Database, *, limit: int = 50) -> list[RetentionRun]:
    with db.read() as session:
        return store.runs(session=session, limit=limit)


def run_json(run: RetentionRun) -> dict[str, Any]:
    return {
        "id": run.public_id,
        "dry_run": run.dry_run,
        "trigger": run.trigger,
        "actor": run.actor,
        "started_at": isoformat(run.started_at),
        "finished_at": isoformat(run.finished_at) if run.finished_at else None,
        "error": run.error,
        "categories": json.loads(run.categories) if run.categories else [],
    }


register(WITHDRAWN_CONSENT, due=consent.retention_due_txn, apply=consent.retention_apply_txn)
register(
    SUBJECT_REQUESTS,
    due=subject_requests.retention_due_txn,
    apply=subject_requests.retention_apply_txn,
)
register(AUDIT_LOG, due=audit.retention_due_txn, apply=audit.retention_apply_txn)
