"""OSARA analysis of a case: when incidents happen, how they count towards the threshold, which
partners are involved, and where each alleged perpetrator stands on the escalation ladder.

Pure functions over the case file. Counting uses the correlator's own rules (qualifying
complaints, one incident reported to several agencies counted once, the six-month window as
episodes), so a chart never disagrees with the alert it explains. Times are shown on the local
(Europe/London) clock, as officers and victims speak of "Friday nights".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from contracts.vocab import InterventionType
from services.casework.case import CaseFile, Party
from services.correlator.domain.episodes import find_episodes
from services.correlator.domain.escalation import active_until
from services.correlator.domain.facts import InterventionFact
from services.correlator.domain.incidents import Incident, group_reports
from services.correlator.domain.periods import LONDON, add_months, local_date
from services.correlator.domain.policy import AreaPolicy

__all__ = [
    "DAYS",
    "LADDER",
    "Breach",
    "HeatMap",
    "Ladder",
    "Rung",
    "ThresholdPoint",
    "ThresholdSeries",
    "heat_map",
    "involvement",
    "ladder",
    "threshold_series",
]

DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
#: The escalation ladder, lowest rung first (the enum is declared in that order).
LADDER = tuple(InterventionType)
#: Steps after which a new incident by the person is a breach worth putting before a court.
_BINDING = frozenset(
    {
        InterventionType.ACCEPTABLE_BEHAVIOUR_CONTRACT,
        InterventionType.COMMUNITY_PROTECTION_WARNING,
        InterventionType.COMMUNITY_PROTECTION_NOTICE,
        InterventionType.CIVIL_INJUNCTION,
        InterventionType.CRIMINAL_BEHAVIOUR_ORDER,
    }
)


@dataclass(frozen=True)
class HeatMap:
    """Incidents by local day of week (rows, Monday first) and hour (columns 0-23)."""

    counts: tuple[tuple[int, ...], ...]

    @property
    def peak(self) -> int:
        """The largest cell (0 when there are no incidents)."""
        return max((c for row in self.counts for c in row), default=0)

    @property
    def total(self) -> int:
        """Incidents counted."""
        return sum(sum(row) for row in self.counts)


def heat_map(incidents: Sequence[Incident]) -> HeatMap:
    """Where each de-duplicated incident falls in the week, by when the behaviour happened."""
    cells = Counter(
        (local.weekday(), local.hour)
        for local in (i.occurred_at.astimezone(LONDON) for i in incidents)
    )
    return HeatMap(tuple(tuple(cells[(d, h)] for h in range(24)) for d in range(7)))


@dataclass(frozen=True)
class ThresholdPoint:
    """One incident on the threshold chart: its day and the qualifying count in the window
    of ``window_months`` ending that day."""

    on: date
    agencies: tuple[str, ...]
    qualifying: bool
    rolling: int


@dataclass(frozen=True)
class ThresholdSeries:
    """Incidents over time against the window and the area threshold."""

    points: tuple[ThresholdPoint, ...]
    threshold: int
    window_months: int
    window_start: date | None
    window_end: date | None
    met_on: date | None


def threshold_series(incidents: Sequence[Incident], policy: AreaPolicy) -> ThresholdSeries:
    """The victim's incidents and, when met, the first window in which the threshold was met."""
    ordered = sorted(incidents, key=lambda i: (i.occurred_at, i.key))
    qualifying = [i for i in ordered if i.qualifying(policy)]
    points = []
    for incident in ordered:
        day = local_date(incident.occurred_at)
        since = add_months(day, -policy.window_months)
        rolling = sum(1 for q in qualifying if since < local_date(q.occurred_at) <= day)
        points.append(
            ThresholdPoint(
                on=day,
                agencies=tuple(a.value for a in incident.agencies),
                qualifying=incident in qualifying,
                rolling=rolling,
            )
        )
    episodes = find_episodes(qualifying, policy.threshold, policy)
    first = episodes[0] if episodes else None
    return ThresholdSeries(
        points=tuple(points),
        threshold=policy.threshold,
        window_months=policy.window_months,
        window_start=local_date(first.window_start) if first else None,
        window_end=local_date(first.window_end) if first else None,
        met_on=local_date(first.met_at) if first else None,
    )


def involvement(case: CaseFile) -> dict[str, dict[str, int]]:
    """Partner -> kind of record -> how many records it contributed to the case."""
    found: dict[str, Counter[str]] = {}
    for item in case.items:
        for source in item.sources:
            found.setdefault(source.partner, Counter())[item.kind] += 1
    return {partner: dict(sorted(kinds.items())) for partner, kinds in sorted(found.items())}


@dataclass(frozen=True)
class Rung:
    """One step taken against the person."""

    intervention: InterventionType
    agency: str
    issued_on: date
    in_force_until: date | None
    active: bool
    event_id: str


@dataclass(frozen=True)
class Breach:
    """An incident naming the person as alleged perpetrator while a binding step was in force."""

    occurred_on: date
    under: InterventionType
    elsewhere: bool
    event_ids: tuple[str, ...]


@dataclass(frozen=True)
class Ladder:
    """Where one alleged perpetrator stands on the escalation ladder on ``as_of``."""

    person_id: str
    label: str
    rungs: tuple[Rung, ...]
    breaches: tuple[Breach, ...]
    as_of: date

    @property
    def highest(self) -> InterventionType | None:
        """The highest rung reached so far."""
        return max((r.intervention for r in self.rungs), key=LADDER.index, default=None)

    @property
    def active_cpw(self) -> Rung | None:
        """The community protection warning in force on ``as_of``, if any."""
        live = [
            r
            for r in self.rungs
            if r.active and r.intervention is InterventionType.COMMUNITY_PROTECTION_WARNING
        ]
        return live[0] if live else None


def _in_force_until(step: InterventionFact, policy: AreaPolicy) -> date | None:
    if step.intervention is InterventionType.COMMUNITY_PROTECTION_WARNING:
        return active_until(step, policy)
    if step.expires_on:
        return step.expires_on
    if step.duration_days is not None:
        return step.effective_from + timedelta(days=step.duration_days)
    return None  # a warning letter or a notice without an end date stays on record


def _in_force(step: InterventionFact, policy: AreaPolicy, day: date) -> bool:
    """A dated step is in force until its end; an undated letter is on record, not in force."""
    until = _in_force_until(step, policy)
    if until is None:
        return step.intervention in _BINDING and step.effective_from <= day
    return step.effective_from <= day <= until


def ladder(party: Party, policy: AreaPolicy, as_of: date) -> Ladder:
    """The person's steps in date order and every incident that breached one in force."""
    steps = sorted(party.view.interventions, key=lambda s: (s.issued_on, s.record_key))
    rungs = tuple(
        Rung(
            intervention=s.intervention,
            agency=s.partner.value,
            issued_on=s.issued_on,
            in_force_until=_in_force_until(s, policy),
            active=_in_force(s, policy, as_of),
            event_id=s.event_id,
        )
        for s in steps
    )
    breaches = []
    for incident in group_reports(party.view.perpetrator_reports, policy):
        day = local_date(incident.occurred_at)
        live = [
            s
            for s in steps
            if s.intervention in _BINDING and s.issued_on < day and _in_force(s, policy, day)
        ]
        if not live:
            continue
        binding = max(live, key=lambda s: LADDER.index(s.intervention))
        before = {
            t
            for r in party.view.perpetrator_reports
            if r.location and local_date(r.occurred_at) <= binding.issued_on
            for t in r.location.tokens
        }
        here = {t for r in incident.reports if r.location for t in r.location.tokens}
        breaches.append(
            Breach(
                occurred_on=day,
                under=binding.intervention,
                elsewhere=bool(before and here and not here & before),
                event_ids=tuple(sorted(incident.event_ids)),
            )
        )
    return Ladder(party.person_id, party.label, rungs, tuple(breaches), as_of)
