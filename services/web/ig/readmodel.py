"""The IG read model: exchanges, disclosures and alert provenance from the audit records.

Pure functions over :class:`AuditRecord` (in archive order; a record's index is its position)
and alert envelopes. Nothing here opens a sealed field: the audit records are metadata by
construction, and alerts are used for their rule, reason and routing only, never their sealed
details.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum

from contracts.alert_envelope import AlertEnvelope
from contracts.audit import AuditAction, AuditRecord

__all__ = [
    "AlertSummary",
    "Contribution",
    "ExchangeCount",
    "Period",
    "Provenance",
    "Sharing",
    "alert_provenance",
    "alert_summaries",
    "exchanges",
    "period_label",
    "sharing_about",
    "totals",
]

#: Actions that put data about a subject in front of someone (or make it readable to them).
SHARING_ACTIONS = (
    AuditAction.DISCLOSURE,
    AuditAction.CANONICAL_PUBLISHED,
    AuditAction.ALERT_RAISED,
)


class Period(StrEnum):
    """How exchanges are grouped in time."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"


def period_label(at: datetime, period: Period) -> str:
    """``2025-04-01``, ``2025-W14`` (ISO week) or ``2025-04``: sortable as text."""
    day = at.date()
    if period is Period.DAY:
        return day.isoformat()
    if period is Period.WEEK:
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{day.year}-{day.month:02d}"


def _partner(record: AuditRecord) -> str:
    """Which partner an exchange was with: the sender, or for a disclosure its recipient."""
    if record.partner:
        return record.partner
    if record.action is AuditAction.DISCLOSURE and record.recipient:
        return record.recipient
    return "asbx"


@dataclass(frozen=True)
class ExchangeCount:
    """How many records of one action, partner and purpose fell in one period."""

    period: str
    partner: str
    purpose: str
    action: str
    count: int


def exchanges(
    records: Iterable[AuditRecord],
    period: Period,
    *,
    start: date | None = None,
    end: date | None = None,
) -> list[ExchangeCount]:
    """Records counted per period, partner, purpose and action (``start``..``end`` inclusive)."""
    counts: Counter[tuple[str, str, str, str]] = Counter()
    for r in records:
        day = r.at.date()
        if (start and day < start) or (end and day > end):
            continue
        key = (period_label(r.at, period), _partner(r), r.purpose or "(none)", r.action.value)
        counts[key] += 1
    return [ExchangeCount(*key, count=n) for key, n in sorted(counts.items())]


def totals(counts: Iterable[ExchangeCount], by: str) -> list[tuple[str, int]]:
    """Sum of ``counts`` per ``by`` (period, partner, purpose or action), sorted by key."""
    summed: Counter[str] = Counter()
    for c in counts:
        summed[getattr(c, by)] += c.count
    return sorted(summed.items())


@dataclass(frozen=True)
class Sharing:
    """One record of data about a subject reaching (or made readable to) a recipient."""

    index: int
    record: AuditRecord

    @property
    def kind(self) -> str:
        """``disclosed`` (opened and shown), ``shared`` (sealed for) or ``alerted``."""
        return {
            AuditAction.DISCLOSURE: "disclosed",
            AuditAction.CANONICAL_PUBLISHED: "shared",
            AuditAction.ALERT_RAISED: "alerted",
        }.get(self.record.action, self.record.action.value)


def sharing_about(
    records: Sequence[AuditRecord], subject: str, actions: Sequence[AuditAction] = SHARING_ACTIONS
) -> list[Sharing]:
    """Every disclosure, publication and alert naming ``subject``, newest first."""
    found = [
        Sharing(i, r) for i, r in enumerate(records) if r.subject == subject and r.action in actions
    ]
    return sorted(found, key=lambda s: (s.record.at, s.index), reverse=True)


@dataclass(frozen=True)
class AlertSummary:
    """An alert as IG sees it: its rule and routing, never its sealed details."""

    alert_id: str
    subject: str
    rule: str
    raised_at: datetime
    recipients: str
    reason: str | None = None
    area: str | None = None
    policy: str | None = None
    audit_index: int | None = None


def _rule_from_outcome(outcome: str | None) -> str:
    return (outcome or "").split(":", 1)[0] or "(unknown)"


def alert_summaries(
    records: Sequence[AuditRecord], alerts: Iterable[AlertEnvelope]
) -> list[AlertSummary]:
    """Every alert known from its ALERT_RAISED record or from the alerts topic, newest first."""
    envelopes = {a.id: a for a in alerts}
    found: dict[str, AlertSummary] = {}
    for i, r in enumerate(records):
        if r.action is AuditAction.ALERT_RAISED and r.event_id and r.subject:
            env = envelopes.get(r.event_id)
            found[r.event_id] = AlertSummary(
                alert_id=r.event_id,
                subject=r.subject,
                rule=env.data.rule.value if env else _rule_from_outcome(r.outcome),
                raised_at=r.at,
                recipients=r.recipient or "",
                reason=env.data.reason if env else None,
                area=env.area if env else None,
                policy=env.policy if env else None,
                audit_index=i,
            )
    for alert_id, env in envelopes.items():
        found.setdefault(
            alert_id,
            AlertSummary(
                alert_id=alert_id,
                subject=env.subject,
                rule=env.data.rule.value,
                raised_at=env.time,
                recipients=",".join(a.value for a in env.data.audiences),
                reason=env.data.reason,
                area=env.area,
                policy=env.policy,
            ),
        )
    return sorted(found.values(), key=lambda a: (a.raised_at, a.alert_id), reverse=True)


@dataclass(frozen=True)
class Contribution:
    """A canonical event that contributed to an alert, and the record of its publication."""

    event_id: str
    published: Sharing | None


@dataclass
class Provenance:
    """Where an alert came from and who has read about it since."""

    alert: AlertSummary
    raised: Sharing | None
    contributions: list[Contribution] = field(default_factory=list)
    readers: list[Sharing] = field(default_factory=list)


def alert_provenance(
    alert_id: str, records: Sequence[AuditRecord], alerts: Iterable[AlertEnvelope]
) -> Provenance | None:
    """The alert's ALERT_RAISED record, contributing events and every disclosure since."""
    alerts = list(alerts)
    summary = next((a for a in alert_summaries(records, alerts) if a.alert_id == alert_id), None)
    if summary is None:
        return None
    raised = (
        Sharing(summary.audit_index, records[summary.audit_index])
        if summary.audit_index is not None
        else None
    )
    event_ids: tuple[str, ...] = raised.record.related_ids if raised else ()
    if not event_ids:  # records written before related_ids: the alert's own incidents
        env = next((a for a in alerts if a.id == alert_id), None)
        ids = {e for i in env.data.incidents for e in i.event_ids} if env else set()
        event_ids = tuple(sorted(ids))
    published = {
        r.event_id: Sharing(i, r)
        for i, r in enumerate(records)
        if r.action is AuditAction.CANONICAL_PUBLISHED and r.event_id
    }
    readers = [
        Sharing(i, r)
        for i, r in enumerate(records)
        if r.action is AuditAction.DISCLOSURE
        and (alert_id in r.related_ids or r.subject == summary.subject)
    ]
    return Provenance(
        alert=summary,
        raised=raised,
        contributions=[Contribution(e, published.get(e)) for e in event_ids],
        readers=sorted(readers, key=lambda s: (s.record.at, s.index)),
    )


def default_window(records: Sequence[AuditRecord], days: int = 365) -> tuple[date, date]:
    """A period covering the records (or the last ``days`` days if there are none)."""
    if not records:
        today = date.today()
        return today - timedelta(days=days), today
    days_seen = [r.at.date() for r in records]
    return min(days_seen), max(days_seen)
