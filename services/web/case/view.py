"""The case page's view model: the case file, its analysis and its recorded work, as the
template needs them (words from ``present``, pictures from ``charts``). Pure: no Kafka, no keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from services.casework.analysis import (
    DAYS,
    LADDER,
    heat_map,
    involvement,
    ladder,
    threshold_series,
)
from services.casework.case import CaseFile
from services.casework.osara import CaseRecord
from services.casework.present import (
    WITHHELD_TEXT,
    detail_lines,
    fact_lines,
    headline,
    humanise,
    item_time,
)
from services.casework.provenance import Provenance
from services.correlator.chronology import WITHHELD
from services.web.case.charts import heat_map_svg, ladder_svg, threshold_svg
from services.web.ig.charts import bar_chart

__all__ = ["case_page", "vulnerability_note"]


def vulnerability_note(case: CaseFile) -> str | None:
    """What the viewer may know of the victim's vulnerability: that it exists, and the reason
    only when the agreement sealed it for their audience."""
    if not case.vulnerable:
        return None
    flags = [i for i in case.items if i.kind == "vulnerability"]
    reasons = [
        str(s.opened["detail"])
        for i in flags
        for s in i.sources
        if "detail" in s.opened and s.opened["detail"] != WITHHELD
    ]
    if reasons:
        return f"Flagged vulnerable: {'; '.join(reasons)}"
    return f"Flagged vulnerable. Reason: {WITHHELD_TEXT.lower()}"


def case_page(
    case: CaseFile, record: CaseRecord, provenance: Mapping[str, Provenance], today: date
) -> dict[str, Any]:
    """Everything ``case/case.html`` renders."""
    series = threshold_series(case.victim_incidents, case.policy)
    grid = heat_map(case.victim_incidents)
    ladders = [ladder(p, case.policy, today) for p in case.perpetrators]
    involved = involvement(case)
    items = [
        {
            "n": n,
            "when": item_time(item),
            "headline": headline(item),
            "kind": item.kind,
            "agencies": item.agencies,
            "people": item.people,
            "sources": [
                {
                    "partner": s.partner,
                    "event_id": s.event_id,
                    "facts": fact_lines(s),
                    "details": detail_lines(s),
                    "provenance": provenance.get(s.event_id),
                }
                for s in item.sources
            ],
        }
        for n, item in enumerate(case.items, start=1)
    ]
    kinds = sorted({k for counts in involved.values() for k in counts})
    return {
        "case": case,
        "items": items,
        "vulnerability": vulnerability_note(case),
        "grid": grid,
        "days": DAYS,
        "heat_svg": heat_map_svg(grid),
        "series": series,
        "threshold_svg": threshold_svg(series),
        "ladders": [(lad, ladder_svg(lad)) for lad in ladders],
        "ladder_steps": LADDER,
        "involved": involved,
        "involved_kinds": kinds,
        "involved_svg": bar_chart(
            "Records in this case by partner",
            [(p, sum(c.values())) for p, c in involved.items()],
        ),
        "record": record,
        "humanise": humanise,
    }
