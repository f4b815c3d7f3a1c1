"""Forgetting what no rule can use any more, on event time, so keyed state stays bounded.

Every rule looks back from "now" (the newest event time known, see ``periods.evaluation_horizon``)
over ``window_months`` plus ``allowed_lateness_days``: an incident that happened before that
horizon raises nothing new. State is expired against the **retention cutoff**: that horizon taken
from the partition's stream time, less ``same_incident.tolerance_hours`` and a day (so reports of
one incident straddling the horizon stay together). Why each kind of fact may go once its
*relevance end* falls before the cutoff:

* **Incident reports** (relevance = when the behaviour occurred). An event arriving within the
  allowed lateness of stream time happened at most ``allowed_lateness_days`` before it, so any
  episode it joins spans at most ``window_months`` before that: every incident it can be counted
  with is after the cutoff. Older incidents can only form episodes among themselves, which were
  judged when the last of them arrived. A report that is the basis of a warning still in use
  (related to it, or, for a warning naming none, a report with an alleged perpetrator up to its
  issue) is kept until the warning has ended: it decides which addresses are "new".
* **Community protection warnings** are kept until ``window_months`` plus the lateness after the
  warning ended: the reoffence and new-address rules only look at its active span, and a notice
  counts a warning as prior only if the warning was in force within that look-back of the notice
  (``escalation.prior_warning``), so no notice the cutoff keeps can need a warning it dropped.
* **Other interventions, tenancies, referrals**: their day (as ``views.fact_time``).
* **Vulnerability flags** are never forgotten while active: a raised flag with no end on or after
  it is kept however old (and so is its key); once ended, it goes with its end, when the end is
  before the cutoff (no incident the cutoff keeps was reported while it was active).
* **Corrections**: only the current version of a record is kept (the rules never read the
  others); a whole record goes when its current version's relevance has ended.

**Raised alerts** are what de-duplicate: an alert blocks new episodes overlapping its window and
re-use of its events. It may go once its window (and when it was met) ends before the cutoff: no
new episode can open before the cutoff, and every event it counted is dropped with it. A
redelivery of such an old event is itself before the cutoff, so it is dropped again at once and
never evaluated: an old alert cannot be resurrected. Two raised alerts are kept for as long as the
key holds any fact, because identity depends on them: per rule, reason and subject the one with
the highest ordinal (the next episode is numbered after it, so its alert id stays new), and per
subject the earliest (it fixes the subject later alerts about the person use).

When every fact of a key is gone, those same anchors stay (and nothing else) for
:data:`ALERT_IDS_KEPT` after the alert was met: a person seen again after a long silence gets
their next alert numbered after the last one, not a second alert under an id already published
(ids are numbered per subject, see ``alerts.alert_id``). A key holding nothing is deleted.
Linkage evidence (which records are one person) ages out with the facts carrying it.

An event older than the allowed lateness relative to stream time (not merely relative to its own
key) is judged against what is left of its key, not against everything ever seen.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

from contracts.vocab import InterventionType
from services.correlator.domain.alerts import RaisedAlert
from services.correlator.domain.escalation import active_until
from services.correlator.domain.facts import (
    Fact,
    IncidentReport,
    InterventionFact,
    VulnerabilityFact,
)
from services.correlator.domain.periods import (
    add_months,
    evaluation_horizon,
    local_date,
    start_of_day,
)
from services.correlator.domain.policy import AreaPolicy
from services.correlator.domain.views import current_facts, fact_time

__all__ = [
    "ALERT_IDS_KEPT",
    "FOREVER",
    "expire",
    "kept_until",
    "relevance_ends",
    "retention_cutoff",
]

#: Relevance of a fact no cutoff can reach (an active vulnerability flag).
FOREVER = datetime.max.replace(tzinfo=UTC)

#: How long the numbering anchors of a subject's alerts outlive its facts: the six years after
#: a case closes that partners' agreements keep case records (an id may not come back while the
#: alert it named can still be looked up).
ALERT_IDS_KEPT = timedelta(days=6 * 366)

_CPW = InterventionType.COMMUNITY_PROTECTION_WARNING


def retention_cutoff(policy: AreaPolicy, now: datetime) -> datetime:
    """Facts whose relevance ends before this (stream time ``now``) can change no alert."""
    margin = timedelta(hours=policy.same_incident.tolerance_hours, days=1)
    return evaluation_horizon(policy, now) - margin


def _warning_end(warning: InterventionFact, policy: AreaPolicy) -> datetime:
    """Until when a warning can matter: its end, plus the look-back a notice gives it."""
    ended = active_until(warning, policy) + timedelta(days=policy.allowed_lateness_days)
    # Three days cover calendar-month clamping (31 August + 6 months is 28 February).
    return start_of_day(add_months(ended, policy.window_months) + timedelta(days=3))


def _baseline_of(report: IncidentReport, warning: InterventionFact) -> bool:
    """Whether a report may be among the locations behind a warning (a superset is safe)."""
    if warning.related_incidents:
        return report.incident_ref in warning.related_incidents
    return bool(report.perpetrators) and local_date(report.occurred_at) <= warning.issued_on


def _flag_end(flag: VulnerabilityFact, flags: list[VulnerabilityFact]) -> datetime:
    if not flag.raised:
        return start_of_day(flag.on)
    ends = [f.on for f in flags if not f.raised and f.flag_ref == flag.flag_ref and f.on >= flag.on]
    return start_of_day(min(ends)) if ends else FOREVER


def relevance_ends(current: Iterable[Fact], policy: AreaPolicy) -> dict[str, datetime]:
    """Per record key of ``current`` facts (one version each), when it stops mattering."""
    facts = list(current)
    warnings = [f for f in facts if isinstance(f, InterventionFact) and f.intervention is _CPW]
    flags = [f for f in facts if isinstance(f, VulnerabilityFact)]
    ends: dict[str, datetime] = {}
    for fact in facts:
        match fact:
            case InterventionFact() if fact.intervention is _CPW:
                end = _warning_end(fact, policy)
            case VulnerabilityFact():
                end = _flag_end(fact, flags)
            case IncidentReport():
                behind = [
                    start_of_day(active_until(w, policy) + timedelta(days=1))
                    for w in warnings
                    if _baseline_of(fact, w)
                ]
                end = max([fact.occurred_at, *behind])
            case _:
                end = fact_time(fact)
        ends[fact.record_key] = end
    return ends


def _kept_alerts(
    raised: Iterable[RaisedAlert], cutoff: datetime, anchors_from: datetime
) -> set[str]:
    """Ids of raised alerts still needed: recent ones, and the ordinal and subject anchors met
    after ``anchors_from``."""
    alerts = list(raised)
    keep = {a.alert_id for a in alerts if max(a.window_end, a.met_at) >= cutoff}
    top: dict[tuple[str, str, str], RaisedAlert] = {}
    first: dict[str, RaisedAlert] = {}
    for a in alerts:
        slot = (a.rule.value, a.reason_code, a.subject)
        if slot not in top or a.ordinal > top[slot].ordinal:
            top[slot] = a
        if a.subject not in first or (a.met_at, a.alert_id) < (
            first[a.subject].met_at,
            first[a.subject].alert_id,
        ):
            first[a.subject] = a
    anchors = [*top.values(), *first.values()]
    return keep | {a.alert_id for a in anchors if a.met_at >= anchors_from}


class _Expirable(Protocol):
    """What :func:`expire` needs of a keyed state (``state._KeyedState``)."""

    facts: dict[str, Fact]
    raised: dict[str, RaisedAlert]


def expire(state: _Expirable, policy: AreaPolicy, now: datetime) -> bool:
    """Drop from ``state`` what no rule can use at stream time ``now``; True if anything went.

    The state is left empty (no fact, no alert) when nothing of it is still relevant: the caller
    then deletes the key. With no fact left it may still hold a few alerts (numbering anchors).
    """
    cutoff = retention_cutoff(policy, now)
    current = current_facts(state.facts.values())
    ends = relevance_ends(current, policy)
    keep = {f.event_id for f in current if ends[f.record_key] >= cutoff}
    changed = False
    for event_id in [e for e in state.facts if e not in keep]:
        del state.facts[event_id]
        changed = True
    anchors_from = datetime.min.replace(tzinfo=UTC) if state.facts else now - ALERT_IDS_KEPT
    alerts = _kept_alerts(state.raised.values(), cutoff, anchors_from)
    for alert in [a for a in state.raised if a not in alerts]:
        del state.raised[alert]
        changed = True
    return changed


def kept_until(state: _Expirable, policy: AreaPolicy) -> date | None:
    """The local day from which the cutoff passes every fact of ``state`` (None: never).

    A key is due for a sweep once the cutoff's day is after this day; sweeping it early is
    harmless (:func:`expire` decides), sweeping it late only keeps it longer.
    """
    ends = relevance_ends(current_facts(state.facts.values()), policy)
    if not ends:
        met = [a.met_at for a in state.raised.values()]
        return local_date(max(met) + ALERT_IDS_KEPT) if met else date.min
    last = max(ends.values())
    return None if last == FOREVER else local_date(last)
