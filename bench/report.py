"""The results table: one row per measurement, printed and written as JSON.

Suites add :class:`Row` objects; a write row names the ceiling row it is
compared with (``baseline``), and the table shows the ratio of the two rates.
The issue's targets for the node's earn path are checked at the end.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.load import LoadResult

#: The issue's targets, checked against the SQLite earn row.
EARN_ROW = "node.sqlite.earn"
TARGET_EARNS_PER_S = 1500.0
TARGET_P99_MS = 50.0
TARGET_CEILING_RATIO = 0.60
#: Issue 5: earning under a full program (ten campaigns, four tiers) keeps
#: within 20 % of the flat-rate earn measured in the same run.
PROGRAM_EARN_ROW = "node.sqlite.earn_program"
TARGET_PROGRAM_RATIO = 0.80
#: Issue 6: completed cross-node transfers between two real node processes.
TRANSFER_ROW = "federation.sqlite.transfer"
TARGET_TRANSFERS_PER_S = 500.0


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    unit: str
    result: LoadResult
    baseline: str | None = None
    #: A second row of the same kind as ``baseline``, measured after this one:
    #: the ratio then compares with the mean of the two (slow drift in the
    #: machine's speed cancels out).
    baseline_after: str | None = None


@dataclass(frozen=True)
class Target:
    name: str
    value: float
    goal: str
    met: bool


class Table:
    def __init__(self, rows: list[Row]) -> None:
        self.rows = rows
        self._by_key = {row.key: row for row in rows}

    def ratio(self, row: Row) -> float | None:
        """The row's rate over its baseline's rate (the mean of the baselines before
        and after it, when both were measured), if measured."""
        base = self._by_key.get(row.baseline) if row.baseline else None
        if base is None or not base.result.rate:
            return None
        after = self._by_key.get(row.baseline_after) if row.baseline_after else None
        rate = base.result.rate if after is None else (base.result.rate + after.result.rate) / 2
        return row.result.rate / rate

    def targets(self) -> list[Target]:
        earn = self._by_key.get(EARN_ROW)
        if earn is None:
            return []
        result = earn.result
        found = [
            Target(
                "earns/s",
                result.rate,
                f">= {TARGET_EARNS_PER_S:,.0f}",
                result.rate >= TARGET_EARNS_PER_S,
            ),
            Target(
                "earn p99 ms", result.p99_ms, f"< {TARGET_P99_MS:g}", result.p99_ms < TARGET_P99_MS
            ),
        ]
        ratio = self.ratio(earn)
        if ratio is not None:
            found.append(
                Target(
                    "earn / ceiling",
                    ratio,
                    f">= {TARGET_CEILING_RATIO:.0%}",
                    ratio >= TARGET_CEILING_RATIO,
                )
            )
        transfers = self._by_key.get(TRANSFER_ROW)
        if transfers is not None:
            found.append(
                Target(
                    "transfers/s",
                    transfers.result.rate,
                    f">= {TARGET_TRANSFERS_PER_S:,.0f}",
                    transfers.result.rate >= TARGET_TRANSFERS_PER_S,
                )
            )
        program = self._by_key.get(PROGRAM_EARN_ROW)
        share = self.ratio(program) if program is not None else None
        if share is not None:
            found.append(
                Target(
                    "program / flat",
                    share,
                    f">= {TARGET_PROGRAM_RATIO:.0%}",
                    share >= TARGET_PROGRAM_RATIO,
                )
            )
        return found

    def render(self) -> str:
        header = (
            "row",
            "rate",
            "",
            "p50 ms",
            "p99 ms",
            "p99.9 ms",
            "max ms",
            "errors",
            "vs ceiling",
            "server CPU",
            "client CPU",
            "other CPU",
        )
        lines = [header]
        for row in self.rows:
            r = row.result
            ratio = self.ratio(row)
            lines.append(
                (
                    row.label,
                    f"{r.rate:,.0f}",
                    row.unit,
                    f"{r.p50_ms:.1f}",
                    f"{r.p99_ms:.1f}",
                    f"{r.p999_ms:.1f}",
                    f"{r.max_ms:.1f}",
                    str(r.errors),
                    "" if ratio is None else f"{ratio:.0%}",
                    "" if r.server_cpu is None else f"{r.server_cpu:.0%}",
                    f"{r.client_cpu:.0%}",
                    "" if r.other_cpu is None else f"{r.other_cpu:.0%}",
                )
            )
        widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
        text = []
        for line in lines:
            cells = [
                cell.ljust(width) if i in (0, 2) else cell.rjust(width)
                for i, (cell, width) in enumerate(zip(line, widths, strict=True))
            ]
            text.append("  ".join(cells).rstrip())
        text.insert(1, "-" * len(text[0]))
        text.append(
            "CPU: cores used during the row by the server process, the load generator and "
            "everything else (PostgreSQL's own processes, and any other load, which disturbs "
            "the row)."
        )
        return "\n".join(text)

    def render_targets(self) -> str:
        return "\n".join(
            f"target {t.name:16s} {t.value:>10,.2f}  goal {t.goal:8s}  "
            f"{'met' if t.met else 'MISSED'}"
            for t in self.targets()
        )

    def render_errors(self) -> str:
        return "\n".join(
            f"errors in {row.label}: {'; '.join(row.result.error_samples)}"
            for row in self.rows
            if row.result.errors
        )

    def as_json(self, *, options: dict[str, Any], machine: dict[str, Any]) -> dict[str, Any]:
        rows = []
        for row in self.rows:
            entry: dict[str, Any] = {
                "key": row.key,
                "label": row.label,
                "unit": row.unit,
                "baseline": row.baseline,
                "baseline_after": row.baseline_after,
                "rate": row.result.rate,
                "ceiling_ratio": self.ratio(row),
            }
            entry.update(asdict(row.result))
            rows.append(entry)
        return {
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "options": options,
            "machine": machine,
            "rows": rows,
            "targets": [asdict(target) for target in self.targets()],
        }


def write_json(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
