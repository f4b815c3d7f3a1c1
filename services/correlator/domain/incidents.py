"""One incident reported to several agencies counts once: grouping reports into incidents.

Two reports are **the same incident** when all of these hold:

* they were made to *different* agencies (two reports to one agency are two complaints: the
  agency would have linked them itself, and merging them could cost a victim a complaint);
* they concern the same party (the caller decides: same victim cluster for victim rules, the
  same perpetrator for escalation rules, the same place for locality);
* same category, or either is ``personal`` (agencies grade one threat differently);
* their behaviour occurred within ``same_incident.tolerance_hours`` of each other;
* they were at the same property when both give a location (see ``PlaceFacet.same_place``).

Grouping is complete-linkage (a report joins a group only if it matches every report in it) over
reports sorted by occurred time, report time and event id, so chains of near-matches do not
swallow separate incidents and the result does not depend on arrival order.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property

from contracts.vocab import AsbCategory, Partner
from services.correlator.domain.facts import IncidentReport
from services.correlator.domain.periods import is_qualifying
from services.correlator.domain.policy import AreaPolicy

__all__ = ["INCIDENT_NAMESPACE", "Incident", "group_reports", "same_incident"]

INCIDENT_NAMESPACE = uuid.UUID("0e6f3c52-4f3e-4c1b-8d55-7a0b9d0f6c21")


@dataclass(frozen=True)
class Incident:
    """One de-duplicated incident and every report of it."""

    reports: tuple[IncidentReport, ...]

    @cached_property  # sorted and grouped by, over and over, within one evaluation
    def key(self) -> str:
        """Stable id: a UUIDv5 of the smallest record key among its reports."""
        return str(uuid.uuid5(INCIDENT_NAMESPACE, min(r.record_key for r in self.reports)))

    @property
    def occurred_at(self) -> datetime:
        """When the behaviour happened (earliest report of it)."""
        return min(r.occurred_at for r in self.reports)

    @property
    def first_reported_at(self) -> datetime:
        """When the first complaint about it was made."""
        return min(r.reported_at for r in self.reports)

    @property
    def agencies(self) -> tuple[Partner, ...]:
        """Every agency it was reported to."""
        return tuple(sorted({r.partner for r in self.reports}))

    @property
    def event_ids(self) -> frozenset[str]:
        """The canonical events that reported it."""
        return frozenset(r.event_id for r in self.reports)

    @property
    def category(self) -> AsbCategory:
        """Personal if any agency graded it personal, else the first report's category."""
        if any(r.category is AsbCategory.PERSONAL for r in self.reports):
            return AsbCategory.PERSONAL
        return self.reports[0].category

    @property
    def hate_motivated(self) -> bool:
        """Any agency recorded it as hate-motivated."""
        return any(r.hate_motivated for r in self.reports)

    @property
    def is_high_risk(self) -> bool:
        """Any report assessed the victim as high risk."""
        return any(r.is_high_risk for r in self.reports)

    def qualifying(self, policy: AreaPolicy) -> bool:
        """At least one agency received a complaint within the qualifying period."""
        return any(is_qualifying(r.occurred_at, r.reported_at, policy) for r in self.reports)


def same_incident(a: IncidentReport, b: IncidentReport, policy: AreaPolicy) -> bool:
    """Whether two reports (already known to concern the same party) are one incident."""
    if a.partner is b.partner:
        return False
    if a.category is not b.category and AsbCategory.PERSONAL not in (a.category, b.category):
        return False
    tolerance = timedelta(hours=policy.same_incident.tolerance_hours)
    if abs(a.occurred_at - b.occurred_at) > tolerance:
        return False
    if a.location and b.location:
        return a.location.same_place(b.location)
    return True


def _order(report: IncidentReport) -> tuple[datetime, datetime, str]:
    return (report.occurred_at, report.reported_at, report.event_id)


def group_reports(
    reports: Iterable[IncidentReport],
    policy: AreaPolicy,
    same_party: Callable[[IncidentReport, IncidentReport], bool] = lambda _a, _b: True,
) -> list[Incident]:
    """Group reports into incidents, ordered by when they occurred."""
    groups: list[list[IncidentReport]] = []
    for report in sorted(reports, key=_order):
        for group in groups:
            if all(same_party(report, m) and same_incident(report, m, policy) for m in group):
                group.append(report)
                break
        else:
            groups.append([report])
    incidents = [Incident(tuple(group)) for group in groups]
    return sorted(incidents, key=lambda i: (i.occurred_at, i.key))
