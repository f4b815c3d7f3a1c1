"""Words for a case's chronology, shared by the web case view and the evidence bundle.

One wording in both places, so what an officer saw on screen is what the court bundle says.
Withheld detail is named as withheld, never left out silently: a reader must know there is
something they were not shown (a victim flagged vulnerable, but not why).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.casework.case import CaseItem
from services.correlator.chronology import SHREDDED, UNREADABLE, WITHHELD, Entry
from services.correlator.domain.periods import LONDON

__all__ = [
    "WITHHELD_TEXT",
    "agencies_text",
    "detail_lines",
    "fact_lines",
    "headline",
    "humanise",
    "item_time",
    "local_time",
]

WITHHELD_TEXT = "Not shared with your audience under the data-sharing agreement"
_LABELS = {
    "category": "Category",
    "classification": "Partner classification",
    "hate_motivated": "Hate motivated",
    "reporting_agency": "Reported to",
    "intervention": "Step",
    "issued_on": "Issued on",
    "expires_on": "In force until",
    "victim_risk": "Victim risk assessment",
    "active_from": "Active from",
    "ended_on": "Ended on",
    "referred_on": "Referred on",
    "status": "Status",
    "event": "Tenancy event",
    "effective_on": "Effective on",
}


def humanise(code: str) -> str:
    """``community_protection_warning`` -> ``Community protection warning``."""
    return code.replace("_", " ").capitalize()


def local_time(moment: datetime, *, with_time: bool = True) -> str:
    """A time on the England clock, e.g. ``Wed 1 Apr 2026 22:30``."""
    local = moment.astimezone(LONDON)
    text = f"{local:%a} {local.day} {local:%b %Y}"
    return f"{text} {local:%H:%M}" if with_time else text


def item_time(item: CaseItem) -> str:
    """When an item happened: incidents to the minute, dated steps and flags to the day."""
    return local_time(item.occurred_at, with_time=item.kind == "incident")


def agencies_text(agencies: tuple[str, ...]) -> str:
    """``housing and police``."""
    names = list(agencies)
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def headline(item: CaseItem) -> str:
    """One line saying what happened."""
    summary = item.sources[0].summary
    kind = item.sources[0].kind
    if item.kind == "incident":
        hate = (
            ", hate motivated" if any(s.summary.get("hate_motivated") for s in item.sources) else ""
        )
        reported = "reported to" if len(item.agencies) == 1 else "one incident reported to"
        return (
            f"ASB incident ({summary.get('category', 'unknown')}{hate}), {reported} "
            f"{agencies_text(item.agencies)}"
        )
    if item.kind == "intervention":
        return f"{humanise(str(summary.get('intervention', 'step')))} issued by {item.agencies[0]}"
    if item.kind == "vulnerability":
        if kind == "vulnerability_flag_ended":
            return f"Vulnerability flag ended ({item.agencies[0]})"
        return f"Flagged vulnerable by {item.agencies[0]}"
    if item.kind == "referral":
        return f"Referred for support by {item.agencies[0]} ({summary.get('status', '')})"
    return f"{humanise(str(summary.get('event', 'tenancy event')))} ({item.agencies[0]})"


def fact_lines(entry: Entry) -> list[tuple[str, str]]:
    """The facts in clear, labelled."""
    lines = []
    for key, value in entry.summary.items():
        shown = "yes" if value is True else "no" if value is False else str(value)
        lines.append((_LABELS.get(key, humanise(key)), humanise(shown) if key != "classification"
                      and "_" in shown else shown))  # fmt: skip
    return lines


_NOT_SHOWN = {
    WITHHELD: WITHHELD_TEXT,
    UNREADABLE: "Unreadable (key destroyed or data altered)",
    SHREDDED: "Shredded (retention ended or the person's data was erased)",
}


def _value(value: Any) -> str:
    if isinstance(value, str) and value in _NOT_SHOWN:
        return _NOT_SHOWN[value]
    if isinstance(value, dict):
        if "family" in value or "given" in value:
            name = f"{value.get('given', '')} {value.get('family', '')}".strip()
            born = f", born {value['birth_date']}" if value.get("birth_date") else ""
            return f"{name}{born}"
        return "; ".join(f"{humanise(str(k))}: {v}" for k, v in value.items())
    if isinstance(value, list):
        return "; ".join(_value(v) for v in value)
    return str(value)


_PATHS = {
    "detail": "Reason for the flag",
    "victim_risk_detail": "Risk assessment reasoning",
    "narrative": "Narrative",
    "conditions": "Conditions",
    "service": "Support service",
}


def _path_label(path: str) -> str:
    """``people[1].identity`` -> ``Person 2 identity``; ``detail`` -> ``Reason for the flag``."""
    if path in _PATHS:
        return _PATHS[path]
    parts = []
    for part in path.split("."):
        if "[" in part:
            name, _, index = part.partition("[")
            parts.append(
                f"{'Person' if name == 'people' else humanise(name)} {int(index[:-1]) + 1}"
            )
        else:
            parts.append(part.replace("_", " "))
    return humanise(" ".join(parts)).replace("person ", "Person ", 1) if parts else path


def detail_lines(entry: Entry) -> list[tuple[str, str]]:
    """The sealed fields, opened or named as withheld, labelled."""
    return [(_path_label(path), _value(value)) for path, value in sorted(entry.opened.items())]
