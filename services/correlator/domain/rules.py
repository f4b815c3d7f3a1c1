"""Pure evaluation: the facts of one person cluster or one place in, NEW alert drafts out.

The rules themselves live in ``threshold.py``, ``discretionary.py`` and ``escalation.py``; this
module decides *about whom* they run and *under which subject* alerts are raised.

Subject stability: a cluster's alerts use the subject of the earliest alert already raised about
any of its identity tokens (records, deterministic ids, name + dob tokens), else the cluster's
person id. So once an alert is out, later alerts about the same person keep its subject even
if more records join the cluster and its person id would now be another token; and the raised
alerts of both halves of a merged cluster keep blocking repeats of their episodes. When a
correction or unlink splits a cluster, an alert stays with the half holding its subject token;
the other half is a different person, with its own subject and its own episodes.

Namesakes (one name and date of birth, different police ids, NHS numbers or housing references)
are different clusters (see ``clusters.py``). The name + dob token they share is no identity
token of either: an alert raised under it (before the namesake was known) stays with the
cluster whose events it counted, so the other namesake neither inherits its subject nor has its
own episodes blocked by it. Alert ids are unchanged for people without a namesake.

**Linkage confidence.** When the records an alert rests on are joined by a scored link (name and
date of birth rather than a shared identifier), the reason says how confident linkage is; when
a victim's count may be missing a complaint that could not be told apart from a namesake's, the
reason says so too, so the lead officer reviews the linkage before relying on the count.
For the locality rule such a record is one of the namesakes, never a further distinct person.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime

from contracts.vocab import AlertRule, PersonRole
from services.correlator.domain.alerts import AlertDraft, RaisedAlert
from services.correlator.domain.discretionary import locality_conditions, victim_review_conditions
from services.correlator.domain.episodes import raise_new, relevant_raised
from services.correlator.domain.escalation import escalation_conditions
from services.correlator.domain.facts import Fact, IncidentReport
from services.correlator.domain.incidents import Incident, group_reports
from services.correlator.domain.periods import evaluation_horizon
from services.correlator.domain.policy import AreaPolicy, LinkedLocation
from services.correlator.domain.threshold import second_report_conditions, threshold_conditions
from services.correlator.domain.views import PersonView, build_index, fact_time, person_views

__all__ = ["evaluate_people", "evaluate_person_view", "evaluate_place", "place_key"]


def place_key(fact: Fact, policy: AreaPolicy) -> str | None:
    """The linked-location key an incident is routed to for the locality rule, if any."""
    if not isinstance(fact, IncidentReport) or fact.location is None:
        return None
    match policy.linked_location:
        case LinkedLocation.SAME_UPRN:
            return fact.location.uprn
        case LinkedLocation.SAME_POSTCODE:
            return fact.location.postcode
    return fact.location.key


def evaluate_person_view(
    policy: AreaPolicy,
    view: PersonView,
    raised: Sequence[RaisedAlert],
    now_hint: datetime | None = None,
) -> list[AlertDraft]:
    """New alerts about one person: as victim (threshold, prompt, reviews) and perpetrator."""
    cluster = view.cluster
    relevant = relevant_raised(
        raised, cluster.identity_tokens, cluster.shared_tokens, view.event_ids
    )
    subject = relevant[0].subject if relevant else view.cluster.person_id
    newest = max(view.newest, now_hint) if now_hint else view.newest
    horizon = evaluation_horizon(policy, newest)
    incidents = [i for i in group_reports(view.victim_reports, policy) if i.occurred_at >= horizon]
    conditions = (
        threshold_conditions(policy, incidents, relevant)
        + second_report_conditions(policy, incidents, relevant)
        + victim_review_conditions(policy, view, incidents, relevant)
        + escalation_conditions(policy, view, horizon, newest)
    )
    drafts = raise_new(conditions, policy, subject, relevant, raised)
    return [_with_linkage(draft, view) for draft in drafts]


#: Rules whose count a complaint that could not be told apart from a namesake's may change.
_COUNTING = frozenset({AlertRule.THRESHOLD_MET, AlertRule.SECOND_REPORT_PROMPT})


def _with_linkage(draft: AlertDraft, view: PersonView) -> AlertDraft:
    """The draft with the linkage confidence of the records it rests on, said in its reason."""
    confidence = view.cluster.confidence_between(view.records_in(draft.event_ids))
    unresolved = len(view.cluster.possible) if draft.rule in _COUNTING else 0
    notes = ""
    if confidence < 1.0:
        notes += f" Linked with no shared id, confidence {confidence:.2f}."
    if unresolved:
        notes += f" {unresolved} record(s) not told from a namesake: review linkage."
    return replace(
        draft,
        reason=draft.reason + notes,
        linkage_confidence=confidence,
        unresolved_matches=unresolved,
    )


def evaluate_people(
    policy: AreaPolicy,
    facts: list[Fact],
    block: str,
    raised: Sequence[RaisedAlert],
    *,
    unlinked: Iterable[tuple[str, str]] = (),
    now_hint: datetime | None = None,
) -> list[AlertDraft]:
    """New alerts for every person cluster of one blocking key (``facts`` current, by version)."""
    drafts: list[AlertDraft] = []
    for view in person_views(facts, block, unlinked):
        drafts += evaluate_person_view(policy, view, [*raised, *_remember(drafts)], now_hint)
    return drafts


def evaluate_place(
    policy: AreaPolicy,
    facts: list[Fact],
    key: str,
    raised: Sequence[RaisedAlert],
    now_hint: datetime | None = None,
) -> list[AlertDraft]:
    """New locality suggestions for one linked location (``facts`` current, by version)."""
    reports = [f for f in facts if isinstance(f, IncidentReport) and place_key(f, policy) == key]
    if not reports:
        return []
    index = build_index(
        reports, lambda p: p.role in (PersonRole.COMPLAINANT, PersonRole.VICTIM), ()
    )

    def person(record_id: str) -> str:
        # A record that could be either of two namesakes is one of them, not a further person.
        cluster = index.cluster_of(record_id)
        if cluster.ambiguous and cluster.possible:
            return min(min(index.cluster_of(r).members) for r in cluster.possible)
        return min(cluster.members)

    def complainants(incident: Incident) -> frozenset[str]:
        return frozenset(person(p.record_id) for r in incident.reports for p in r.complainants)

    newest = max(fact_time(r) for r in reports)
    horizon = evaluation_horizon(policy, max(newest, now_hint) if now_hint else newest)
    incidents = [i for i in group_reports(reports, policy) if i.occurred_at >= horizon]
    relevant = [r for r in raised if r.subject == key]
    conditions = locality_conditions(policy, incidents, complainants, relevant)
    return raise_new(conditions, policy, key, relevant, raised)


def _remember(drafts: Iterable[AlertDraft]) -> list[RaisedAlert]:
    return [RaisedAlert.of(d) for d in drafts]
