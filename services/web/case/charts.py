"""Server-rendered SVG pictures of a case's analysis, each shown beside a table of its figures.

No script: the pages work without JavaScript and print as they look. Screen readers get the
same figures from the table; the SVG carries a title and ``role="img"``. Every text drawn is
escaped.
"""

from __future__ import annotations

from datetime import date, timedelta
from html import escape

from markupsafe import Markup

from services.casework.analysis import DAYS, LADDER, HeatMap, Ladder, ThresholdSeries
from services.casework.present import humanise

__all__ = ["heat_map_svg", "ladder_svg", "threshold_svg"]

_BLUE, _RED, _GREY, _GREEN = "#1d70b8", "#d4351c", "#b1b4b6", "#00703c"


def _svg(title: str, width: int, height: int, body: str, testid: str) -> Markup:
    return Markup(  # noqa: S704 - callers escape every text they draw; the title is escaped here
        f'<svg class="asbx-chart" role="img" aria-label="{escape(title)}" data-testid="{testid}" '
        f'xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><title>{escape(title)}</title>{body}</svg>'
    )


def heat_map_svg(grid: HeatMap) -> Markup:
    """Days of the week down, hours across; darker is more incidents."""
    cell, left, top = 24, 96, 24
    peak = grid.peak or 1
    parts = [
        f'<text x="{left + h * cell + cell / 2}" y="16" text-anchor="middle" '
        f'style="font-size:11px">{h:02d}</text>'
        for h in range(0, 24, 3)
    ]
    for d, row in enumerate(grid.counts):
        y = top + d * cell
        parts.append(f'<text x="{left - 8}" y="{y + 16}" text-anchor="end">{DAYS[d][:3]}</text>')
        for h, count in enumerate(row):
            shade = 0.08 + 0.92 * count / peak if count else 0.0
            fill = _BLUE if count else "#f3f2f1"
            parts.append(
                f'<rect x="{left + h * cell}" y="{y}" width="{cell - 2}" height="{cell - 2}" '
                f'fill="{fill}" fill-opacity="{shade if count else 1:.2f}">'
                f"<title>{DAYS[d]} {h:02d}:00 - {count} incident(s)</title></rect>"
            )
    return _svg(
        f"Incidents by day of week and hour: {grid.total} incident(s), "
        f"peak {grid.peak} in one hour",
        left + 24 * cell + 8,
        top + 7 * cell + 8,
        "".join(parts),
        "heat-map",
    )


def threshold_svg(series: ThresholdSeries) -> Markup:
    """Qualifying incidents in the trailing window over time, against the threshold line,
    with the window in which the threshold was first met shaded."""
    width, height, left, right, top, bottom = 720, 260, 48, 16, 16, 40
    days = [p.on for p in series.points]
    start = min([*days, *(d for d in (series.window_start,) if d)], default=date.today())
    end = max([*days, *(d for d in (series.window_end,) if d)], default=start)
    end = max(end, start + timedelta(days=30))
    top_count = max([series.threshold + 1, *(p.rolling for p in series.points)])
    span_x, span_y = width - left - right, height - top - bottom

    def x(day: date) -> float:
        return left + span_x * (day - start).days / max((end - start).days, 1)

    def y(count: float) -> float:
        return top + span_y * (1 - count / top_count)

    parts = []
    if series.window_start and series.window_end:
        parts.append(
            f'<rect x="{x(series.window_start):.1f}" y="{top}" '
            f'width="{x(series.window_end) - x(series.window_start):.1f}" height="{span_y}" '
            f'fill="{_BLUE}" fill-opacity="0.08" data-testid="window"/>'
            f'<text x="{x(series.window_start) + 4:.1f}" y="{top + 14}" style="font-size:12px">'
            f"{series.window_months}-month window from {series.window_start:%d %b %Y}</text>"
        )
    parts.append(
        f'<line x1="{left}" x2="{width - right}" y1="{y(series.threshold):.1f}" '
        f'y2="{y(series.threshold):.1f}" stroke="{_RED}" stroke-dasharray="6 4" stroke-width="2"/>'
        f'<text x="{width - right}" y="{y(series.threshold) - 6:.1f}" text-anchor="end" '
        f'fill="{_RED}">threshold {series.threshold}</text>'
    )
    for count in range(top_count + 1):
        parts.append(
            f'<text x="{left - 8}" y="{y(count) + 5:.1f}" text-anchor="end">{count}</text>'
        )
    parts.append(
        f'<line x1="{left}" x2="{width - right}" y1="{top + span_y}" y2="{top + span_y}" '
        f'stroke="{_GREY}"/>'
        f'<text x="{left}" y="{height - 12}">{start:%d %b %Y}</text>'
        f'<text x="{width - right}" y="{height - 12}" text-anchor="end">{end:%d %b %Y}</text>'
    )
    path = " ".join(
        f"{'M' if n == 0 else 'L'}{x(p.on):.1f},{y(p.rolling):.1f}"
        for n, p in enumerate(series.points)
    )
    if path:
        parts.append(f'<path d="{path}" fill="none" stroke="{_BLUE}" stroke-width="2"/>')
    for p in series.points:
        colour = _BLUE if p.qualifying else _GREY
        parts.append(
            f'<circle cx="{x(p.on):.1f}" cy="{y(p.rolling):.1f}" r="5" fill="{colour}">'
            f"<title>{p.on:%d %b %Y}: {escape(', '.join(p.agencies))}; "
            f"{p.rolling} qualifying in window</title></circle>"
        )
    met = f", met on {series.met_on:%d %b %Y}" if series.met_on else ", not met"
    return _svg(
        f"Qualifying incidents in the {series.window_months}-month window against the "
        f"threshold of {series.threshold}{met}",
        width,
        height,
        "".join(parts),
        "threshold-chart",
    )


def ladder_svg(ladder: Ladder) -> Markup:
    """The ladder's rungs, lowest at the bottom; rungs reached are filled, the one in force
    outlined in green, and breaches counted beside the rung they breached."""
    rung_h, width, left = 26, 520, 8
    height = rung_h * len(LADDER) + 8
    reached = {r.intervention for r in ladder.rungs}
    active = {r.intervention for r in ladder.rungs if r.active}
    breaches: dict[object, int] = {}
    for b in ladder.breaches:
        breaches[b.under] = breaches.get(b.under, 0) + 1
    parts = []
    for n, step in enumerate(LADDER):
        y = height - 8 - (n + 1) * rung_h
        fill = _BLUE if step in reached else "#f3f2f1"
        stroke = f' stroke="{_GREEN}" stroke-width="3"' if step in active else ""
        colour = "#ffffff" if step in reached else "#0b0c0c"
        parts.append(
            f'<rect x="{left}" y="{y + 2}" width="300" height="{rung_h - 4}" '
            f'fill="{fill}"{stroke}/>'
            f'<text x="{left + 8}" y="{y + 18}" fill="{colour}">{humanise(step.value)}</text>'
        )
        if breaches.get(step):
            parts.append(
                f'<text x="{left + 312}" y="{y + 18}" fill="{_RED}">'
                f"breached {breaches[step]}x</text>"
            )
    highest = humanise(ladder.highest.value) if ladder.highest else "no step taken"
    return _svg(
        f"Escalation ladder for {ladder.label}: highest step {highest}, "
        f"{len(ladder.breaches)} breach(es)",
        width,
        height,
        "".join(parts),
        "ladder",
    )
