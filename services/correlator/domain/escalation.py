"""The escalation ladder, per perpetrator: community protection warnings and notices.

* CPN_WITHOUT_PRIOR_CPW — a community protection notice binds a person for whom no community
  protection warning issued on or before the notice's day is known (the Act requires the warning
  first). A warning counts only if it was still in force within ``window_months`` plus
  ``allowed_lateness_days`` before the notice (the rules' look-back, see ``prior_warning``): a
  warning that ended long before is not the warning behind this notice, and state forgets it.
  Once per notice (scope = the notice's record key). Judged only once stream time is
  ``cpn_prior_cpw_grace_days`` past the notice: a warning given by another agency may reach
  asbx after the notice, and an alert once published cannot be taken back.
* PERPETRATOR_UNDER_CPW_REOFFENDS — the person is an alleged perpetrator in an incident that
  occurred after the day a warning was issued and while it was active. Once per incident.
* PERPETRATOR_UNDER_CPW_NEW_ADDRESS — while a warning is active the person appears (any role in
  an incident, or a tenancy event) at a property that is not among the locations behind the
  warning: its related incidents (or, when it names none, the incidents where the person was
  the alleged perpetrator up to the warning) and its premises. Once per new location. Until a
  location behind the warning is known nothing can be called "new", so nothing is raised: a
  related incident arriving late is waited for rather than guessed at.

The two CPW rules are independent: an incident at a new address by a person under a warning
raises both (it is a reoffence *and* a sign of dispersal or cuckooing).

A warning is active from its effective day until ``expires_on``; else ``duration_days`` after
it takes effect; else ``cpw_assumed_active_months`` (default 12) — a CPW has no statutory length.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from contracts.vocab import AlertRule, InterventionType
from services.correlator.domain.episodes import Condition
from services.correlator.domain.facts import InterventionFact
from services.correlator.domain.incidents import Incident, group_reports
from services.correlator.domain.people import PlaceFacet
from services.correlator.domain.periods import (
    add_months,
    evaluation_horizon,
    local_date,
    start_of_day,
)
from services.correlator.domain.policy import AreaPolicy
from services.correlator.domain.views import PersonView

__all__ = ["active_until", "escalation_conditions", "prior_warning"]

_CPW = InterventionType.COMMUNITY_PROTECTION_WARNING
_CPN = InterventionType.COMMUNITY_PROTECTION_NOTICE
_REASONS = {
    "cpn_without_cpw": "community protection notice issued with no earlier community protection "
    "warning on record for this person",
    "cpw_reoffends": "alleged perpetrator in an ASB incident while under an active community "
    "protection warning",
    "cpw_new_address": "person under an active community protection warning appeared at a "
    "location not linked to the incidents behind the warning",
}


def active_until(warning: InterventionFact, policy: AreaPolicy) -> date:
    """The last day a warning is in force."""
    if warning.expires_on:
        return warning.expires_on
    if warning.duration_days is not None:
        return warning.effective_from + timedelta(days=warning.duration_days)
    return add_months(warning.effective_from, policy.cpw_assumed_active_months)


def prior_warning(warning: InterventionFact, notice: InterventionFact, policy: AreaPolicy) -> bool:
    """Whether ``warning`` can be the warning a ``notice`` needed: issued on or before it, and in
    force within the rules' look-back of it (see ``expiry._warning_end``, which relies on this)."""
    horizon = evaluation_horizon(policy, start_of_day(notice.issued_on))
    return warning.issued_on <= notice.issued_on and (
        start_of_day(active_until(warning, policy)) >= horizon
    )


def _span(warning: InterventionFact, policy: AreaPolicy) -> tuple[datetime, datetime]:
    return (
        start_of_day(warning.effective_from),
        start_of_day(active_until(warning, policy) + timedelta(days=1)) - timedelta(microseconds=1),
    )


def _active(
    warnings: list[InterventionFact], day: date, policy: AreaPolicy
) -> InterventionFact | None:
    live = [w for w in warnings if w.issued_on < day <= active_until(w, policy)]
    return min(live, key=lambda w: (w.issued_on, w.record_key)) if live else None


def escalation_conditions(
    policy: AreaPolicy, view: PersonView, horizon: datetime, now: datetime
) -> list[Condition]:
    """All escalation conditions for one person; ``now`` is stream time, never the wall clock."""
    warnings = sorted(
        (i for i in view.interventions if i.intervention is _CPW), key=lambda w: w.version
    )
    return (
        _notices_without_warning(policy, view, warnings, horizon, now)
        + _reoffences(policy, view, warnings, horizon)
        + _new_addresses(policy, view, warnings, horizon)
    )


def _notices_without_warning(
    policy: AreaPolicy,
    view: PersonView,
    warnings: list[InterventionFact],
    horizon: datetime,
    now: datetime,
) -> list[Condition]:
    found: list[Condition] = []
    grace = timedelta(days=policy.cpn_prior_cpw_grace_days)
    for notice in (i for i in view.interventions if i.intervention is _CPN):
        day = start_of_day(notice.issued_on)
        if day < horizon or now < start_of_day(notice.issued_on + grace):
            continue
        if any(prior_warning(w, notice, policy) for w in warnings):
            continue
        found.append(
            Condition(
                rule=AlertRule.CPN_WITHOUT_PRIOR_CPW,
                reason_code="cpn_without_cpw",
                reason=_REASONS["cpn_without_cpw"],
                window_start=day,
                window_end=day + timedelta(days=1, microseconds=-1),
                met_at=day,
                scope=notice.record_key,
            )
        )
    return found


def _reoffences(
    policy: AreaPolicy, view: PersonView, warnings: list[InterventionFact], horizon: datetime
) -> list[Condition]:
    found: list[Condition] = []
    for incident in group_reports(view.perpetrator_reports, policy):
        warning = _active(warnings, local_date(incident.occurred_at), policy)
        if warning is None or incident.occurred_at < horizon:
            continue
        start, end = _span(warning, policy)
        found.append(
            Condition(
                rule=AlertRule.PERPETRATOR_UNDER_CPW_REOFFENDS,
                reason_code="cpw_reoffends",
                reason=_REASONS["cpw_reoffends"],
                window_start=start,
                window_end=end,
                met_at=incident.occurred_at,
                incidents=(incident,),
            )
        )
    return found


def _baseline(view: PersonView, warning: InterventionFact) -> set[str]:
    """Location tokens behind a warning: its related incidents (those known so far), or when it
    names none, the incidents where the person was the alleged perpetrator up to its issue."""
    if warning.related_incidents:
        related = [r for r in view.all_reports if r.incident_ref in warning.related_incidents]
    else:
        related = [
            r for r in view.perpetrator_reports if local_date(r.occurred_at) <= warning.issued_on
        ]
    baseline = {t for r in related if r.location for t in r.location.tokens}
    return baseline | (set(warning.premises.tokens) if warning.premises else set())


def _new_addresses(
    policy: AreaPolicy, view: PersonView, warnings: list[InterventionFact], horizon: datetime
) -> list[Condition]:
    found: list[Condition] = []
    for warning in warnings:
        baseline = _baseline(view, warning)
        if not baseline:
            continue
        until = active_until(warning, policy)
        seen: list[tuple[datetime, PlaceFacet, Incident | None]] = [
            (r.occurred_at, r.location, Incident((r,)))
            for r in view.reports
            if r.location and warning.issued_on < local_date(r.occurred_at) <= until
        ]
        seen += [
            (start_of_day(t.effective_on), t.property, None)
            for t in view.tenancies
            if warning.issued_on < t.effective_on <= until
        ]
        start, end = _span(warning, policy)
        for when, place, incident in sorted(seen, key=lambda s: (s[0], s[1].key or "")):
            if place.tokens & baseline or not place.key or when < horizon:
                continue
            found.append(
                Condition(
                    rule=AlertRule.PERPETRATOR_UNDER_CPW_NEW_ADDRESS,
                    reason_code="cpw_new_address",
                    reason=_REASONS["cpw_new_address"],
                    window_start=start,
                    window_end=end,
                    met_at=when,
                    scope=place.key,
                    incidents=(incident,) if incident else (),
                )
            )
    return found
