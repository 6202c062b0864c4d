"""The scale curve as a table (stdout) and a chart (pygal SVG, docs/img/scale.svg).

One column per node size. Per-member operations show p50 / p99 in
milliseconds and, in the last column, how the largest size's p50 compares
with the smallest's (flat is about 1x). Whole-node runs (seeding, the KPI
report, a retention dry run) show seconds and peak memory: those may grow
with the node, linearly in time and not at all in memory.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pygal
from pygal.style import Style

# pygal adds a sys.meta_path finder for its map plugins that lacks find_spec
# (see admin_ui/staff/charts.py); take it out again.
sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "PluginImportFixer"]

CHART_STYLE = Style(
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#1f2933",
    foreground_strong="#1f2933",
    foreground_subtle="#52606d",
    font_family="system-ui, sans-serif",
    label_font_size=12,
    major_label_font_size=12,
    legend_font_size=12,
)


def size_label(customers: int) -> str:
    for factor, suffix in ((1_000_000, "M"), (1_000, "k")):
        if customers >= factor and customers % factor == 0:
            return f"{customers // factor}{suffix}"
    return f"{customers:,}"


def render_table(sizes: list[dict[str, Any]]) -> str:
    if not sizes:
        return "(no sizes measured)"
    labels = [f"{size_label(s['customers'])} customers" for s in sizes]
    width = max(22, *(len(label) for label in labels))
    lines = [f"{'':28}" + "".join(f"{label:>{width}}" for label in labels) + "  last/first p50"]
    for index, op in enumerate(sizes[0]["operations"]):
        cells, p50s = [], []
        for size in sizes:
            found = size["operations"][index]
            p50s.append(found["p50_ms"])
            mark = " *" if found["scanned"] else "  "
            cells.append(f"{found['p50_ms']:.2f} / {found['p99_ms']:.2f} ms{mark}")
        ratio = p50s[-1] / p50s[0] if p50s[0] else 0.0
        lines.append(
            f"{op['label']:28}" + "".join(f"{c:>{width}}" for c in cells) + f"  {ratio:10.2f}x"
        )
    lines.append("")
    for key, label in (
        ("seed", "seeding"),
        ("kpi", "KPI report (year)"),
        ("retention", "retention dry run"),
    ):
        cells = []
        for size in sizes:
            job = size[key]
            rss = f", {job['peak_rss_mib']:.0f} MiB" if "peak_rss_mib" in job else ""
            cells.append(f"{job['seconds']:.1f} s{rss}")
        lines.append(f"{label:28}" + "".join(f"{c:>{width}}" for c in cells))
    cells = [f"{s['ledger_entries']:,} entries" for s in sizes]
    lines.append(f"{'ledger':28}" + "".join(f"{c:>{width}}" for c in cells))
    cells = [f"{s['database_mib']:,.0f} MiB" for s in sizes]
    lines.append(f"{'database size':28}" + "".join(f"{c:>{width}}" for c in cells))
    scanned = {
        f"{op['label']} at {size_label(s['customers'])}: {', '.join(op['scanned'])}"
        for s in sizes
        for op in s["operations"]
        if op["scanned"]
    }
    if scanned:
        lines.append("")
        lines.append("* read a large table without an index:")
        lines.extend(f"  {line}" for line in sorted(scanned))
    return "\n".join(lines)


def write_chart(path: Path, sizes: list[dict[str, Any]]) -> None:
    """p50 per operation (left axis, ms) and the whole-node runs (right axis, s)."""
    chart = pygal.Line(
        js=[],
        width=800,
        height=420,
        style=CHART_STYLE,
        title="Konsort on PostgreSQL: cost per operation vs customers",
        x_title="customers (seeded, about 10 ledger entries each)",
        y_title="p50 ms per operation",
        legend_at_bottom=True,
        legend_at_bottom_columns=4,
        include_x_axis=True,
        truncate_legend=-1,
        dots_size=3,
    )
    chart.x_labels = [size_label(s["customers"]) for s in sizes]
    if sizes:
        for index, op in enumerate(sizes[0]["operations"]):
            chart.add(op["label"], [round(s["operations"][index]["p50_ms"], 3) for s in sizes])
        for key, label in (
            ("kpi", "KPI report (s, right)"),
            ("retention", "retention dry run (s, right)"),
        ):
            chart.add(label, [round(s[key]["seconds"], 2) for s in sizes], secondary=True)
    tree = chart.render_tree()
    for parent in list(tree.iter()):
        for child in list(parent):
            if child.tag == "script":
                parent.remove(child)
    import xml.etree.ElementTree as ElementTree

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(ElementTree.tostring(tree, encoding="unicode"), encoding="utf-8")
