"""Review suggestions: conditions where the guidance says a human should consider a review.

Each is a REVIEW_SUGGESTED alert with a reason code, raised once per episode (window) like the
threshold, over *all* reported incidents (not only qualifying ones: a human decides, and a late
report of a hate crime is still worth a look):

* ``hate`` — one hate-motivated incident affecting the victim;
* ``vulnerable`` — an incident reported while the victim had an active vulnerability flag
  (raised on or before the day of the first report of it, not ended by then);
* ``high_risk`` — an incident in which the victim was assessed as high risk;
* ``locality`` — ``locality_threshold`` or more *distinct* complainants (person clusters) about
  ASB at one linked location (evaluated on place state, subject = the place key).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from contracts.vocab import AlertRule
from services.correlator.domain.alerts import RaisedAlert
from services.correlator.domain.episodes import Condition, find_episodes
from services.correlator.domain.incidents import Incident
from services.correlator.domain.periods import local_date
from services.correlator.domain.policy import AreaPolicy
from services.correlator.domain.views import PersonView

__all__ = ["REASONS", "locality_conditions", "victim_review_conditions"]

REASONS = {
    "hate": "a hate-motivated ASB incident affecting this victim",
    "vulnerable": "an ASB incident reported while the victim had an active vulnerability flag",
    "high_risk": "an ASB incident in which the victim was assessed as high risk",
}


def _review(
    policy: AreaPolicy,
    code: str,
    text: str,
    items: Sequence[Incident],
    *,
    need: int,
    raised: Sequence[RaisedAlert],
    units: Callable[[Incident], frozenset[str]] | None = None,
) -> list[Condition]:
    blocked = [r for r in raised if r.rule is AlertRule.REVIEW_SUGGESTED and r.reason_code == code]
    found = (
        find_episodes(items, need, policy, blocked, units)
        if units
        else find_episodes(items, need, policy, blocked)
    )
    return [
        Condition(
            rule=AlertRule.REVIEW_SUGGESTED,
            reason_code=code,
            reason=f"{code}: {text} within {policy.window_months} months; review suggested",
            window_start=e.window_start,
            window_end=e.window_end,
            met_at=e.met_at,
            incidents=e.counted,
        )
        for e in found
    ]


def victim_review_conditions(
    policy: AreaPolicy,
    view: PersonView,
    incidents: Sequence[Incident],
    raised: Sequence[RaisedAlert],
) -> list[Condition]:
    """Hate, vulnerability and high-risk suggestions for one victim, as the area enables."""
    rules = policy.discretionary
    chosen: list[tuple[bool, str, list[Incident]]] = [
        (rules.hate, "hate", [i for i in incidents if i.hate_motivated]),
        (
            rules.vulnerability,
            "vulnerable",
            [i for i in incidents if view.flag_active_on(local_date(i.first_reported_at))],
        ),
        (rules.high_risk, "high_risk", [i for i in incidents if i.is_high_risk]),
    ]
    found: list[Condition] = []
    for enabled, code, items in chosen:
        if enabled:
            found += _review(policy, code, REASONS[code], items, need=1, raised=raised)
    return found


def locality_conditions(
    policy: AreaPolicy,
    incidents: Sequence[Incident],
    complainants: Callable[[Incident], frozenset[str]],
    raised: Sequence[RaisedAlert],
) -> list[Condition]:
    """``locality_threshold`` distinct complainants about ASB at one linked location."""
    if not policy.discretionary.locality:
        return []
    items = [i for i in incidents if complainants(i)]
    text = (
        f"{policy.locality_threshold} or more different people complained about ASB at a "
        f"linked location ({policy.linked_location.value})"
    )
    return _review(
        policy,
        "locality",
        text,
        items,
        need=policy.locality_threshold,
        raised=raised,
        units=complainants,
    )
