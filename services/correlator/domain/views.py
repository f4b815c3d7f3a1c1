"""What the rules see of one person cluster or one place, built from the current facts.

Everything here is recomputed from facts on each evaluation (they are few per key): corrected
records, late events and unlinks take effect simply because the view is rebuilt.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime

from contracts.vocab import TokenKind
from services.correlator.domain.facts import (
    Fact,
    IncidentReport,
    InterventionFact,
    PersonFacet,
    TenancyFact,
    VulnerabilityFact,
)
from services.correlator.domain.linkage import Cluster, PersonIndex, PersonRecord
from services.correlator.domain.periods import start_of_day

__all__ = ["PersonView", "build_index", "current_facts", "fact_time", "people_of", "person_views"]


def current_facts(facts: Iterable[Fact]) -> list[Fact]:
    """The latest version of each record (a later-recorded fact corrects an earlier one)."""
    latest: dict[str, Fact] = {}
    for fact in facts:
        held = latest.get(fact.record_key)
        if held is None or fact.version > held.version:
            latest[fact.record_key] = fact
    return sorted(latest.values(), key=lambda f: f.version)


def people_of(fact: Fact) -> tuple[PersonFacet, ...]:
    """Everyone a fact names."""
    return fact.people


def fact_time(fact: Fact) -> datetime:
    """When the fact happened in the world."""
    match fact:
        case IncidentReport():
            return fact.occurred_at
        case InterventionFact():
            return start_of_day(fact.issued_on)
        case VulnerabilityFact():
            return start_of_day(fact.on)
        case TenancyFact():
            return start_of_day(fact.effective_on)
    return start_of_day(fact.referred_on)


def _places(fact: Fact) -> frozenset[str]:
    if isinstance(fact, IncidentReport) and fact.location:
        return fact.location.tokens
    if isinstance(fact, TenancyFact):
        return fact.property.tokens
    return frozenset()


def build_index(
    facts: Iterable[Fact],
    keep: Callable[[PersonFacet], bool],
    unlinked: Iterable[tuple[str, str]] = (),
) -> PersonIndex:
    """Linkage records from the facets ``keep`` accepts, one record per ``record_id``.

    For each identifier kind the latest fact (by version) that gives that kind wins, so a
    corrected date of birth or NHS number replaces the old one, while an event that simply omits
    a kind does not erase it. Facts must be current (see :func:`current_facts`), sorted by version.
    """
    kinds: dict[str, dict[TokenKind, list[str]]] = {}
    years: dict[str, int] = {}
    places: dict[str, set[str]] = {}
    premises: dict[str, set[str]] = {}
    for fact in facts:
        for facet in people_of(fact):
            if not keep(facet):
                continue
            given: dict[TokenKind, list[str]] = {}
            for kind, token in facet.keys:
                given.setdefault(kind, []).append(token)
            kinds.setdefault(facet.record_id, {}).update(given)
            if facet.birth_year:
                years[facet.record_id] = facet.birth_year
            places.setdefault(facet.record_id, set()).update(_places(fact))
            premises.setdefault(facet.record_id, set()).update(facet.premises(_places(fact)))
    records = [
        PersonRecord(
            record_id=rid,
            keys=tuple((k, t) for k in TokenKind if k in held for t in held[k]),
            birth_year=years.get(rid),
            places=frozenset(places[rid]),
            premises=frozenset(premises[rid]),
        )
        for rid, held in kinds.items()
    ]
    return PersonIndex.of(records, unlinked)


@dataclass(frozen=True)
class PersonView:
    """One person (cluster) in one blocking key, and every current fact naming them."""

    cluster: Cluster
    reports: tuple[IncidentReport, ...]
    victim_reports: tuple[IncidentReport, ...]
    perpetrator_reports: tuple[IncidentReport, ...]
    interventions: tuple[InterventionFact, ...]
    flags: tuple[VulnerabilityFact, ...]
    tenancies: tuple[TenancyFact, ...]
    all_reports: tuple[IncidentReport, ...]
    newest: datetime
    named: tuple[Fact, ...] = ()

    @property
    def event_ids(self) -> frozenset[str]:
        """Events naming this person (they tell whose an alert under a shared token is)."""
        return frozenset(f.event_id for f in self.named)

    def records_in(self, event_ids: Iterable[str]) -> frozenset[str]:
        """This person's records named by the given events (what an alert rests on)."""
        wanted = set(event_ids)
        return frozenset(
            p.record_id
            for f in self.named
            if f.event_id in wanted
            for p in people_of(f)
            if p.record_id in self.cluster.members
        )

    def flag_active_on(self, day: date) -> bool:
        """Some vulnerability flag of this person was active on ``day``."""
        for raised in (f for f in self.flags if f.raised):
            ends = [
                f.on
                for f in self.flags
                if not f.raised and f.flag_ref == raised.flag_ref and f.on >= raised.on
            ]
            if raised.on <= day and (not ends or day < min(ends)):
                return True
        return False


def person_views(
    facts: list[Fact], block: str, unlinked: Iterable[tuple[str, str]] = ()
) -> list[PersonView]:
    """A view per person cluster among the people of ``block`` in current ``facts``."""
    index = build_index(facts, lambda p: p.block == block, unlinked)
    reports = tuple(f for f in facts if isinstance(f, IncidentReport))
    views = []
    for cluster in index.clusters:

        def mine(facets: Iterable[PersonFacet], cluster: Cluster = cluster) -> bool:
            return any(p.block == block and p.record_id in cluster.members for p in facets)

        named = [f for f in facts if mine(people_of(f))]
        views.append(
            PersonView(
                cluster=cluster,
                reports=tuple(r for r in reports if mine(r.people)),
                victim_reports=tuple(r for r in reports if mine(r.victims)),
                perpetrator_reports=tuple(r for r in reports if mine(r.perpetrators)),
                interventions=tuple(f for f in named if isinstance(f, InterventionFact)),
                flags=tuple(f for f in named if isinstance(f, VulnerabilityFact)),
                tenancies=tuple(f for f in named if isinstance(f, TenancyFact)),
                all_reports=reports,
                newest=max(fact_time(f) for f in named),
                named=tuple(named),
            )
        )
    return views
