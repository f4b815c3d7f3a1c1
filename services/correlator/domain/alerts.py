"""Alerts: the drafts the rules return, what state remembers of them, and the published event.

An alert's id is ``uuid5(area | rule | reason | subject | ordinal)``, where the ordinal numbers
the episodes of that condition for that subject (1 for the first threshold met, 2 for the next
episode ...). The id does not depend on *which* incidents were counted, because that depends on
arrival order when events come late; numbering episodes keeps the id the same whichever order
the same facts arrive in, as long as they make the same number of episodes, and a replay from
the changelog (or from the topics in their order) never makes a second id for one episode.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from contracts.events import ContributingIncident, TriggerAlertRaised
from contracts.vocab import AlertRule, AsbCategory, Audience, Partner
from services.correlator.domain.incidents import Incident
from services.correlator.domain.policy import AreaPolicy

__all__ = [
    "ALERT_AUDIENCES",
    "ALERT_NAMESPACE",
    "AlertDraft",
    "CountedIncident",
    "RaisedAlert",
    "alert_event",
    "alert_id",
]

ALERT_NAMESPACE = uuid.UUID("8c3b6f0e-2d7a-4e9b-a1f4-5e2c7d9b0a13")
#: Who is told: police subscribe to alerts; the lead agency convenes the case review.
ALERT_AUDIENCES = (Audience.POLICE, Audience.LEAD_AGENCY)


def alert_id(area: str, rule: AlertRule, reason_code: str, subject: str, ordinal: int) -> str:
    """Deterministic id for the ``ordinal``-th episode of a condition for a subject."""
    return str(
        uuid.uuid5(ALERT_NAMESPACE, f"{area}|{rule.value}|{reason_code}|{subject}|{ordinal}")
    )


@dataclass(frozen=True, kw_only=True)
class CountedIncident:
    """One de-duplicated incident an alert counted, as a lead officer's chronology needs it."""

    incident_key: str
    event_ids: tuple[str, ...]
    reporting_agencies: tuple[Partner, ...]
    occurred_at: datetime
    first_reported_at: datetime
    category: AsbCategory
    hate_motivated: bool

    @classmethod
    def of(cls, incident: Incident) -> CountedIncident:
        """From a grouped incident."""
        return cls(
            incident_key=incident.key,
            event_ids=tuple(sorted(incident.event_ids)),
            reporting_agencies=incident.agencies,
            occurred_at=incident.occurred_at,
            first_reported_at=incident.first_reported_at,
            category=incident.category,
            hate_motivated=incident.hate_motivated,
        )


@dataclass(frozen=True, kw_only=True)
class AlertDraft:
    """A new alert to publish.

    ``met_at`` is when the condition became true in the world (the last counted complaint was
    made, the incident happened, the notice was issued), never the wall clock, so the same facts
    always give the same event. ``scope`` names what a per-item condition is about (a notice,
    a new location) so that it is raised once. ``event_ids`` are every event it rests on.
    ``linkage_confidence`` is the weakest link joining the records it rests on (1.0 when they
    share an identifier); ``unresolved_matches`` counts records that may be this victim's but
    could not be told apart from a namesake's (see ``clusters.py``). Both are also in ``reason``.
    """

    alert_id: str
    rule: AlertRule
    reason_code: str
    reason: str
    subject: str
    ordinal: int
    window_start: datetime
    window_end: datetime
    met_at: datetime
    incidents: tuple[CountedIncident, ...] = ()
    response_due_on: date | None = None
    scope: str | None = None
    event_ids: frozenset[str] = frozenset()
    linkage_confidence: float = 1.0
    unresolved_matches: int = 0


@dataclass(frozen=True, kw_only=True)
class RaisedAlert:
    """What state keeps of a published alert, to raise each condition once per episode."""

    alert_id: str
    rule: AlertRule
    reason_code: str
    subject: str
    ordinal: int
    window_start: datetime
    window_end: datetime
    met_at: datetime
    event_ids: tuple[str, ...] = ()
    scope: str | None = None

    @classmethod
    def of(cls, draft: AlertDraft) -> RaisedAlert:
        """Remember a draft once it is published."""
        return cls(
            alert_id=draft.alert_id,
            rule=draft.rule,
            reason_code=draft.reason_code,
            subject=draft.subject,
            ordinal=draft.ordinal,
            window_start=draft.window_start,
            window_end=draft.window_end,
            met_at=draft.met_at,
            event_ids=tuple(sorted(draft.event_ids)),
            scope=draft.scope,
        )


def alert_event(draft: AlertDraft, policy: AreaPolicy) -> TriggerAlertRaised:
    """The contract event for a draft, for the police and the lead agency of the area."""
    return TriggerAlertRaised(
        alert_id=draft.alert_id,
        rule=draft.rule,
        reason=draft.reason[:200],
        subject=draft.subject,
        area=policy.area_id,
        window_start=draft.window_start,
        window_end=draft.window_end,
        incidents=tuple(
            ContributingIncident(
                incident_key=i.incident_key,
                event_ids=i.event_ids,
                reporting_agencies=i.reporting_agencies,
                occurred_at=i.occurred_at,
                first_reported_at=i.first_reported_at,
                category=i.category,
                hate_motivated=i.hate_motivated,
            )
            for i in draft.incidents
        ),
        response_due_on=draft.response_due_on,
        audiences=ALERT_AUDIENCES,
        raised_at=draft.met_at,
    )
