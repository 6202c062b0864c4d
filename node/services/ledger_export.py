"""The bookkeeper's ledger CSV: one line per ledger entry of the transactions
made in a date range (transaction id, time, kind, account, amount, unit,
reference), streamed in keyset pages so a year's ledger is never in memory.

Customer accounts appear under their account code, which holds only the opaque
customer id; no personal data is read.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta

from node.clock import isoformat
from node.db import Database
from node.errors import ValidationFailed
from node.store import ledger_export as store

CSV_COLUMNS = ("transaction_id", "time", "kind", "account", "amount", "unit", "reference")
#: The longest range one export covers.
MAX_DAYS = 3700
BATCH = 2000


def day_range(first: date, last: date) -> tuple[datetime, datetime]:
    """[start of ``first``, start of the day after ``last``) in UTC; 422 when reversed."""
    if last < first:
        raise ValidationFailed("the last day is before the first", field="to")
    if (last - first).days > MAX_DAYS:
        raise ValidationFailed(f"at most {MAX_DAYS} days in one export", field="to")
    since = datetime.combine(first, time(), tzinfo=UTC)
    return since, datetime.combine(last + timedelta(days=1), time(), tzinfo=UTC)


def ledger_csv(db: Database, *, first: date, last: date) -> Iterator[str]:
    """CSV lines (header first) of every entry of the transactions made from
    ``first`` to ``last`` (both days included, UTC), in posting order."""
    since, until = day_range(first, last)
    return _lines(db, since, until)


def _lines(db: Database, since: datetime, until: datetime) -> Iterator[str]:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")

    def line(values: list[object]) -> str:
        out.seek(0)
        out.truncate()
        writer.writerow(values)
        return out.getvalue()

    yield line(list(CSV_COLUMNS))
    after = 0
    while True:
        with db.read() as session:
            page = store.entries_between(
                session=session, since=since, until=until, after_entry=after, limit=BATCH
            )
        for row in page:
            yield line(
                [
                    row.transaction_id,
                    isoformat(row.created_at),
                    row.kind,
                    row.account,
                    row.amount,
                    row.unit,
                    row.reference or "",
                ]
            )
        if len(page) < BATCH:
            return
        after = page[-1].entry_id


def entry_count(db: Database, *, first: date, last: date) -> int:
    """How many lines (besides the header) :func:`ledger_csv` gives for the range."""
    since, until = day_range(first, last)
    with db.read() as session:
        return store.count_entries_between(session=session, since=since, until=until)
