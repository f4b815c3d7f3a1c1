"""Server-rendered SVG bar charts: no script, and always shown beside a data table.

The chart is decorative for screen readers (the table carries the same figures), so the SVG
has a title and ``role="img"`` but the numbers are read from the table.
"""

from __future__ import annotations

from html import escape

from markupsafe import Markup

__all__ = ["bar_chart"]

_BAR, _GAP, _LABEL_W, _VALUE_W = 22, 8, 200, 60


def bar_chart(title: str, items: list[tuple[str, int]], width: int = 640) -> Markup:
    """Horizontal bars, one per ``(label, value)``, scaled to the largest value."""
    top = max((v for _, v in items), default=0) or 1
    span = width - _LABEL_W - _VALUE_W
    height = max(len(items), 1) * (_BAR + _GAP) + _GAP
    rows = []
    for n, (label, value) in enumerate(items):
        y = _GAP + n * (_BAR + _GAP)
        bar = max(round(span * value / top), 1 if value else 0)
        short = label if len(label) <= 28 else label[:27] + "…"
        rows.append(
            f'<text x="{_LABEL_W - 8}" y="{y + 16}" text-anchor="end">{escape(short)}</text>'
            f'<rect class="bar" x="{_LABEL_W}" y="{y}" width="{bar}" height="{_BAR}"/>'
            f'<text x="{_LABEL_W + bar + 6}" y="{y + 16}">{value}</text>'
        )
    if not items:
        rows.append(f'<text x="{_GAP}" y="20">No records in this period</text>')
    return Markup(  # noqa: S704 - every label and the title are escaped above
        f'<svg class="asbx-chart" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><title>{escape(title)}</title>{"".join(rows)}</svg>'
    )
