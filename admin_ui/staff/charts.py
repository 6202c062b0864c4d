"""KPI charts as server-side SVG images (pygal), safe under the UI's CSP.

pygal writes a <style> and a configuration <script> into each SVG; the
script is removed from the tree before serialisation, and the image is
served with its own policy (``security.IMAGE_POLICY``: inline style only, no
script). Browsers never run scripts in an <img> anyway. Labels and numbers
come formatted for the locale.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence

import pygal
from pygal.style import Style

# pygal appends a sys.meta_path finder for its map plugins (unused here) that
# lacks find_spec, so every later failed import warns. Take it out again.
sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "PluginImportFixer"]

#: Calm colours with good contrast on white.
CHART_STYLE = Style(
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#1f2933",
    foreground_strong="#1f2933",
    foreground_subtle="#52606d",
    colors=("#1d4ed8",),
    font_family="system-ui, sans-serif",
    label_font_size=12,
    major_label_font_size=12,
)


def line_chart_svg(
    *, title: str, labels: Sequence[str], values: Sequence[float | None], unit: str = ""
) -> str:
    """An SVG document: one line over the buckets; gaps where a value is undefined."""
    chart = pygal.Line(
        disable_xml_declaration=True,
        js=[],
        show_legend=False,
        width=640,
        height=280,
        style=CHART_STYLE,
        x_label_rotation=30 if len(labels) > 8 else 0,
        show_minor_x_labels=len(labels) <= 16,
        x_labels_major_every=max(1, len(labels) // 12),
        truncate_label=-1,
        include_x_axis=True,
        allow_interruptions=True,
        print_values=False,
        title=title,
        value_formatter=lambda value: f"{value:g}{unit}",
    )
    chart.x_labels = list(labels)
    chart.add(title, list(values))
    tree = chart.render_tree()
    for parent in list(tree.iter()):
        for child in list(parent):
            if child.tag == "script":
                parent.remove(child)
    return ElementTree.tostring(tree, encoding="unicode")
