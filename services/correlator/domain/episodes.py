"""Conditions, episodes, and raising each condition once.

**Episode** (windowed rules: threshold met, second-report prompt, hate, vulnerable, high risk,
locality). Eligible incidents are visited in occurred order; an episode opens at the first
incident from which enough of them (``need`` incidents, or distinct complainants for locality)
fall within ``window_months`` calendar months (inclusive of the last local day). It counts
exactly the incidents that met the condition, and its window is ``[first counted occurred,
+window_months]``. The next episode can only open *after* that window ends, so a victim gets one
threshold alert per six months however many incidents follow, and a new alert once the counted
incidents have aged out and a fresh run meets the condition.

Already-raised alerts of the same rule, reason and subject act as fixed episodes: no new episode
may overlap a raised window, and no incident a raised alert counted is counted again. A late
event that would have opened the episode earlier, or changes which incidents it counted,
therefore never raises a second alert for a condition already raised.

Per-item rules (escalation) raise once per ``scope`` (a notice, a new location) or once per
incident (suppressed when any of its events was counted by a raised alert of that rule).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from contracts.vocab import AlertRule
from services.correlator.domain.alerts import AlertDraft, CountedIncident, RaisedAlert, alert_id
from services.correlator.domain.incidents import Incident
from services.correlator.domain.periods import local_date, window_end
from services.correlator.domain.policy import AreaPolicy
from services.correlator.domain.working_days import add_working_days

__all__ = ["Condition", "Episode", "find_episodes", "raise_new", "relevant_raised"]


@dataclass(frozen=True)
class Episode:
    """A run of incidents that met a windowed condition."""

    counted: tuple[Incident, ...]
    window_start: datetime
    window_end: datetime

    @property
    def met_at(self) -> datetime:
        """When the condition became true: the last counted complaint was made."""
        return max(i.first_reported_at for i in self.counted)


@dataclass(frozen=True, kw_only=True)
class Condition:
    """A condition found in the facts, before suppression and numbering."""

    rule: AlertRule
    reason_code: str
    reason: str
    window_start: datetime
    window_end: datetime
    met_at: datetime
    incidents: tuple[Incident, ...] = ()
    scope: str | None = None

    @property
    def event_ids(self) -> frozenset[str]:
        """Events of the incidents it counts."""
        return frozenset(e for i in self.incidents for e in i.event_ids)


def find_episodes(
    items: Sequence[Incident],
    need: int,
    policy: AreaPolicy,
    blocked: Sequence[RaisedAlert] = (),
    units: Callable[[Incident], frozenset[str]] = lambda i: frozenset({i.key}),
) -> list[Episode]:
    """New episodes among ``items`` (sorted by occurred time), around ``blocked`` ones.

    ``units`` says what is counted towards ``need``: by default incidents; for locality the
    distinct complainants of each incident. Only incidents adding a new unit are counted.
    """
    used = {e for r in blocked for e in r.event_ids}
    items = [i for i in items if not i.event_ids & used]
    found: list[Episode] = []
    for start, first in enumerate(items):
        opened = first.occurred_at
        if found and opened <= found[-1].window_end:
            continue
        end = window_end(opened, policy.window_months)
        if any(opened <= r.window_end and r.window_start <= end for r in blocked):
            continue
        seen: set[str] = set()
        counted: list[Incident] = []
        for item in items[start:]:
            if item.occurred_at > end or len(seen) >= need:
                break
            if units(item) - seen:
                seen |= units(item)
                counted.append(item)
        if len(seen) >= need:
            found.append(Episode(tuple(counted), opened, end))
    return found


def relevant_raised(
    raised: Iterable[RaisedAlert],
    identity: frozenset[str],
    shared: frozenset[str] = frozenset(),
    events: frozenset[str] = frozenset(),
) -> list[RaisedAlert]:
    """Raised alerts about this subject: their subject token is one of its identity tokens, or
    a token it shares with a namesake (``shared``) and the alert rests on its ``events``.

    A shared token (one name and date of birth, two police ids) was an unambiguous subject when
    the alert was raised, before the namesake was known; the events it counted say whose it is.
    """
    return sorted(
        (
            r
            for r in raised
            if r.subject in identity or (r.subject in shared and events.intersection(r.event_ids))
        ),
        key=lambda r: (r.met_at, r.alert_id),
    )


def raise_new(
    conditions: Iterable[Condition],
    policy: AreaPolicy,
    subject: str,
    relevant: Sequence[RaisedAlert],
    raised: Iterable[RaisedAlert],
) -> list[AlertDraft]:
    """Drafts for conditions not already raised, numbered after the subject's earlier ones."""
    known = list(relevant)
    ordinals: dict[tuple[AlertRule, str], int] = {}
    for r in raised:
        if r.subject == subject:
            slot = (r.rule, r.reason_code)
            ordinals[slot] = max(ordinals.get(slot, 0), r.ordinal)
    drafts: list[AlertDraft] = []
    for c in sorted(conditions, key=lambda c: (c.met_at, c.rule, c.reason_code, c.scope or "")):
        same = [r for r in known if (r.rule, r.reason_code) == (c.rule, c.reason_code)]
        if any(c.scope is not None and r.scope == c.scope for r in same):
            continue
        if any(c.event_ids.intersection(r.event_ids) for r in same):
            continue
        slot = (c.rule, c.reason_code)
        ordinals[slot] = ordinals.get(slot, 0) + 1
        due = None
        if c.rule is AlertRule.THRESHOLD_MET:
            due = add_working_days(local_date(c.met_at), policy.response_deadline_working_days)
        draft = AlertDraft(
            alert_id=alert_id(policy.area_id, c.rule, c.reason_code, subject, ordinals[slot]),
            rule=c.rule,
            reason_code=c.reason_code,
            reason=c.reason,
            subject=subject,
            ordinal=ordinals[slot],
            window_start=c.window_start,
            window_end=c.window_end,
            met_at=c.met_at,
            incidents=tuple(CountedIncident.of(i) for i in c.incidents),
            response_due_on=due,
            scope=c.scope,
            event_ids=c.event_ids,
        )
        drafts.append(draft)
        known.append(RaisedAlert.of(draft))
    return drafts
