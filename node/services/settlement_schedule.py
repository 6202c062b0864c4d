"""Scheduled settlement statements: every closed period, stated once per partner.

The schedule cuts time into periods of ``settlement_period_seconds`` (a UTC
day by default) counted from the Unix epoch: ``[n * L, (n + 1) * L)``, the
same bounds on every node with the same setting. :func:`send_due_statements`
(the ``settlement`` job, every ``settlement_interval_seconds``) sends our
statement (node.services.settlement.statement_unit) of each period that

- holds at least one clearing entry with the partner (a period with none
  owes nothing; should the partner count an event we do not, its own
  statement names it in our dispute answer);
- is closed: it ended at least ``WAIT_SECONDS`` (7 days) ago, the rule a
  statement sent by hand follows without ``force``;
- we have not stated yet, and which overlaps no period stated by hand (that
  one is the operator's; the schedule leaves the rest of its time to them);
- has no operation of the pair still waiting for its answer (then a later
  run states it).

Once: the statement's Idempotency-Key is derived from the partner and the
bounds (``settlement-schedule:<partner>:<start>:<end>``), and the period row
is unique per pair and bounds, so two processes running the job, or a run
cut by a crash and run again, queue one statement. A statement that would
not fit one message (``period_too_long``) is split in two halves, each
stated on its own, down to :data:`SHORTEST_PERIOD_SECONDS` (a later run
goes on with the halves a crash or refusal left unstated). The partner's
answer arrives through the outbox as for any statement; a rejected or
disputed period is left to the operator (``konsort settlement send``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby

from node.db import Database
from node.errors import Conflict, KonsortError, ValidationFailed
from node.services.federation import Federation, from_unix, unix
from node.services.idempotency import run_idempotent
from node.services.settlement import WAIT_SECONDS, statement_unit
from node.store import settlement_schedule as store

log = logging.getLogger("konsort.settlement")

#: A period too large for one statement is halved down to this length.
SHORTEST_PERIOD_SECONDS = 60


@dataclass
class ScheduleReport:
    """What one run did: periods stated, and periods left for a later run."""

    stated: list[tuple[str, int, int]] = field(default_factory=list)
    waiting: list[tuple[str, int, int]] = field(default_factory=list)


def schedule_key(partner: str, start: int, end: int) -> str:
    """The Idempotency-Key of the scheduled statement of one pair and period."""
    return f"settlement-schedule:{partner}:{start}:{end}"


def _halves(start: int, end: int) -> tuple[tuple[int, int], tuple[int, int]]:
    middle = start + (end - start) // 2
    return (start, middle), (middle, end)


def _is_piece(start: int, end: int, piece: tuple[int, int]) -> bool:
    """``piece`` is ``[start, end)`` or a half, a quarter... of it: a period the
    schedule split off when the whole would not fit one statement."""
    while end - start >= 2 * SHORTEST_PERIOD_SECONDS and (start, end) != piece:
        (_, middle), _ = _halves(start, end)
        if piece[1] <= middle:
            end = middle
        elif piece[0] >= middle:
            start = middle
        else:
            return False
    return (start, end) == piece


def _overlapping(stated: list[tuple[int, int]], start: int, end: int) -> list[tuple[int, int]]:
    return [(s, e) for s, e in stated if s < end and start < e]


@dataclass(frozen=True)
class DuePeriod:
    partner: str
    start: int
    end: int
    #: Our periods with the partner that share time with this one (pieces of it).
    pieces: list[tuple[int, int]]


def due_periods(db: Database, *, period_seconds: int, now: datetime) -> list[DuePeriod]:
    """Every closed period with entries that is not stated whole yet, and that
    shares no time with a period stated by hand."""
    closed_by = unix(now) - int(WAIT_SECONDS)
    due = []
    with db.read() as session:
        slots = store.clearing_slots(session=session, length=period_seconds, before=closed_by)
        for peer, found in groupby(slots, key=lambda slot: slot[0]):
            stated = store.stated_bounds(session=session, peer=peer)
            for _, n in found:
                start, end = n * period_seconds, (n + 1) * period_seconds
                pieces = _overlapping(stated, start, end)
                if (start, end) not in pieces and all(_is_piece(start, end, p) for p in pieces):
                    due.append(DuePeriod(peer, start, end, pieces))
    return due


def _state(
    db: Database, fed: Federation, report: ScheduleReport, due: DuePeriod, now: datetime
) -> None:
    """State ``due`` whole, or the halves of it that are not stated yet."""
    peer, start, end = due.partner, due.start, due.end
    if (start, end) in due.pieces:
        return
    if due.pieces:  # split by an earlier run: go on with the halves
        for s, e in _halves(start, end):
            _state(db, fed, report, DuePeriod(peer, s, e, _overlapping(due.pieces, s, e)), now)
        return
    unit = statement_unit(
        fed,
        partner=peer,
        period_start=from_unix(start),
        period_end=from_unix(end),
        idempotency_key=schedule_key(peer, start, end),
        now=now,
    )
    try:
        answer = run_idempotent(db, unit)
    except ValidationFailed as error:
        if error.code != "period_too_long" or end - start < 2 * SHORTEST_PERIOD_SECONDS:
            raise
        for s, e in _halves(start, end):
            _state(db, fed, report, DuePeriod(peer, s, e, []), now)
        return
    except Conflict as error:
        if error.code in ("operations_pending", "period_overlaps"):
            report.waiting.append((peer, start, end))
            return
        raise
    if not answer.replayed:
        report.stated.append((peer, start, end))


def send_due_statements(
    db: Database, fed: Federation, *, period_seconds: int, now: datetime
) -> ScheduleReport:
    """State every due period (see the module docstring) once; what was done.

    A period refused for another reason (the partner left the manifest, say)
    is logged and skipped; the others still go.
    """
    report = ScheduleReport()
    for due in due_periods(db, period_seconds=period_seconds, now=now):
        try:
            _state(db, fed, report, due, now)
        except KonsortError as error:
            log.warning(
                "scheduled settlement statement refused",
                extra={"partner": due.partner, "period_start": due.start, "code": error.code},
            )
    return report
