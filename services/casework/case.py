"""The case file a lead officer works from: the victim, the alleged perpetrators, and every
partner's events about them, opened only as far as the officer's audience allows.

People are found the way the correlator finds them (facts, linkage clusters), so the case shows
the same person the alert was raised about, whichever partner's identifier each event used. The
alleged perpetrators are the people named as such in the victim's incidents; their steps on the
escalation ladder and their incidents elsewhere belong to the case (a visitor under a warning
turning up at another flat is part of the cuckooing story). Nothing is decrypted to search.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from contracts.envelope import CanonicalEvent
from contracts.vocab import Audience, PersonRole
from services.correlator.chronology import SHREDDED, UNREADABLE, WITHHELD, Entry, open_entry
from services.correlator.domain.facts import (
    Fact,
    IncidentReport,
    InterventionFact,
    PersonFacet,
    ReferralFact,
    fact_from_event,
)
from services.correlator.domain.incidents import Incident, group_reports
from services.correlator.domain.policy import AreaPolicy
from services.correlator.domain.views import PersonView, current_facts, fact_time, person_views
from services.protection.keys import KeyStore
from services.protection.sealing import Opener

__all__ = [
    "CaseFile",
    "CaseItem",
    "CaseNotFoundError",
    "Party",
    "build_case",
    "opened_values",
]

ItemKind = Literal["incident", "intervention", "vulnerability", "referral", "tenancy"]
_KINDS: dict[str, ItemKind] = {
    "intervention": "intervention",
    "vulnerability": "vulnerability",
    "referral": "referral",
    "tenancy": "tenancy",
    "incident": "incident",
}


class CaseNotFoundError(LookupError):
    """No event names the subject token (wrong token, or its events are not yet in), or it is
    a token namesakes share and nothing says whose case is wanted."""


@dataclass(frozen=True)
class Party:
    """One person in the case: the victim or an alleged perpetrator."""

    person_id: str
    role: PersonRole
    label: str
    view: PersonView


@dataclass(frozen=True)
class CaseItem:
    """One line of the chronology: an incident (once, with every agency it was reported to) or
    one other fact, with the partner events behind it."""

    occurred_at: datetime
    kind: ItemKind
    agencies: tuple[str, ...]
    sources: tuple[Entry, ...]
    people: tuple[str, ...]

    @property
    def event_ids(self) -> tuple[str, ...]:
        """The canonical events behind this item."""
        return tuple(s.event_id for s in self.sources)


@dataclass(frozen=True)
class CaseFile:
    """Everything the case view, the analysis and the evidence bundle are drawn from."""

    subject: str
    audience: Audience
    policy: AreaPolicy
    victim: Party
    perpetrators: tuple[Party, ...]
    victim_incidents: tuple[Incident, ...]
    items: tuple[CaseItem, ...]
    entries: tuple[Entry, ...]

    @property
    def vulnerable(self) -> bool:
        """Some partner flagged the victim as vulnerable (the flag itself is never sealed)."""
        return any(f.raised for f in self.victim.view.flags)

    @property
    def opened_fields(self) -> tuple[str, ...]:
        """Every field path that was opened for this audience (for the disclosure record)."""
        return tuple(sorted({p for e in self.entries for p in opened_values(e)}))


def opened_values(entry: Entry) -> dict[str, Any]:
    """The sealed fields of ``entry`` that were actually opened (not withheld or unreadable)."""
    return {p: v for p, v in entry.opened.items() if v not in (WITHHELD, SHREDDED, UNREADABLE)}


def _view_of(facts: list[Fact], facet: PersonFacet) -> PersonView | None:
    for view in person_views(facts, facet.block):
        if facet.record_id in view.cluster.members:
            return view
    return None


def _subject_view(facts: list[Fact], subject: str, event_ids: frozenset[str]) -> PersonView | None:
    """The person an alert's subject names.

    Every cluster of every blocking key whose mentions carry the token is a candidate: the one
    holding it as its person id or an identity token is the person. A token two namesakes share
    (one name and date of birth, two police ids) names neither: the alert's ``event_ids`` then
    say whose case it is, and without them the case is refused rather than risk showing one
    person's case as another's.
    """
    blocks = sorted(
        {p.block for f in facts for p in f.people if any(t == subject for _, t in p.keys)}
    )
    shared: list[PersonView] = []
    for block in blocks:
        for view in person_views(facts, block):
            if subject in (view.cluster.person_id, *view.cluster.identity_tokens):
                return view
            if subject in view.cluster.shared_tokens and view.event_ids & event_ids:
                shared.append(view)
    return shared[0] if len(shared) == 1 else None


def _label(view: PersonView, entries: dict[str, Entry], fallback: str) -> str:
    """The person's name when this audience may open an identity that names them."""
    named: tuple[Fact, ...] = (*view.reports, *view.interventions, *view.flags)
    for report in named:
        entry = entries.get(report.event_id)
        if entry is None:
            continue
        for position, facet in enumerate(report.people):
            if facet.record_id not in view.cluster.members:
                continue
            path = "subject.identity" if report.kind == "intervention" else None
            for candidate in (path, f"people[{position}].identity", "person.identity"):
                value = entry.opened.get(candidate) if candidate else None
                if isinstance(value, dict) and value.get("family"):
                    return f"{value.get('given', '')} {value['family']}".strip()
    return fallback


def _referrals_of(facts: Sequence[Fact], view: PersonView) -> list[ReferralFact]:
    return [
        f
        for f in facts
        if isinstance(f, ReferralFact) and f.person.record_id in view.cluster.members
    ]


def _premises_steps(facts: Sequence[Fact], view: PersonView) -> list[InterventionFact]:
    """Closure powers over a place where the victim's incidents happened or where they live."""
    places = {t for r in view.victim_reports if r.location for t in r.location.tokens}
    places |= {t for f in view.tenancies for t in f.property.tokens}
    return [
        f
        for f in facts
        if isinstance(f, InterventionFact) and f.premises and f.premises.tokens & places
    ]


def build_case(
    events: Iterable[CanonicalEvent],
    subject: str,
    audience: Audience,
    keys: KeyStore,
    policy: AreaPolicy,
    *,
    event_ids: Iterable[str] = (),
) -> CaseFile:
    """The case about ``subject`` (the alert's subject token) as ``audience`` may see it;
    ``event_ids`` (the alert's) tell namesakes sharing the subject token apart."""
    by_id = {e.id: e for e in events}  # a redelivered event counts once
    facts = current_facts(f for e in by_id.values() if (f := fact_from_event(e)) is not None)
    victim_view = _subject_view(facts, subject, frozenset(event_ids))
    if victim_view is None:
        raise CaseNotFoundError(
            f"no one person is named by {subject[:12]}... (no event names it, or it is a name "
            "and date of birth two people share: open the case from its alert)"
        )

    perpetrator_views: dict[str, PersonView] = {}
    for report in victim_view.victim_reports:
        for named in report.perpetrators:
            view = _view_of(facts, named)
            if view and view.cluster.person_id != victim_view.cluster.person_id:
                perpetrator_views.setdefault(view.cluster.person_id, view)

    chosen: list[Fact] = [
        *victim_view.reports,
        *victim_view.interventions,
        *victim_view.flags,
        *victim_view.tenancies,
        *_referrals_of(facts, victim_view),
    ]
    for view in perpetrator_views.values():
        chosen += [*view.perpetrator_reports, *view.interventions]
    chosen += _premises_steps(facts, victim_view)
    unique = {f.event_id: f for f in chosen}

    opener = Opener(keys, audience)
    entries = {i: open_entry(by_id[i], opener) for i in unique}

    victim = Party(
        victim_view.cluster.person_id,
        PersonRole.VICTIM,
        _label(victim_view, entries, "Victim"),
        victim_view,
    )
    perpetrators = tuple(
        Party(
            pid, PersonRole.ALLEGED_PERPETRATOR, _label(v, entries, f"Alleged perpetrator {n}"), v
        )
        for n, (pid, v) in enumerate(sorted(perpetrator_views.items()), start=1)
    )
    names = {p.person_id: p.label for p in (victim, *perpetrators)}
    members = {m: p.person_id for p in (victim, *perpetrators) for m in p.view.cluster.members}

    def who(fact: Fact) -> tuple[str, ...]:
        return tuple(
            dict.fromkeys(
                names[members[p.record_id]] for p in fact.people if p.record_id in members
            )
        )

    items: list[CaseItem] = []
    reports = [f for f in unique.values() if isinstance(f, IncidentReport)]
    for incident in group_reports(reports, policy):
        items.append(
            CaseItem(
                occurred_at=incident.occurred_at,
                kind="incident",
                agencies=tuple(a.value for a in incident.agencies),
                sources=tuple(entries[r.event_id] for r in incident.reports),
                people=tuple(dict.fromkeys(n for r in incident.reports for n in who(r))),
            )
        )
    for fact in unique.values():
        if isinstance(fact, IncidentReport):
            continue
        items.append(
            CaseItem(
                occurred_at=fact_time(fact),
                kind=_KINDS[fact.kind],
                agencies=(fact.partner.value,),
                sources=(entries[fact.event_id],),
                people=who(fact),
            )
        )
    items.sort(key=lambda i: (i.occurred_at, i.event_ids))
    return CaseFile(
        subject=subject,
        audience=audience,
        policy=policy,
        victim=victim,
        perpetrators=perpetrators,
        victim_incidents=tuple(group_reports(victim_view.victim_reports, policy)),
        items=tuple(items),
        entries=tuple(sorted(entries.values(), key=lambda e: (e.occurred_at, e.event_id))),
    )
