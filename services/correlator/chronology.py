"""A subject's chronology across partners, opened only as far as the reader's audience allows.

A lead officer building the case-review chronology needs every partner's events about a person
in time order. Events are found by token (the alert subject is a token every partner sends for
that person, and every person in an event carries all their tokens), so nothing is decrypted to
search. Each sealed field is then opened with the reader's audience key if the data-sharing
agreement allowed that audience, and shown as withheld otherwise. Every use is a disclosure, so
the caller records it in the audit log (:func:`disclosure_record`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from contracts.audit import AuditAction, AuditRecord
from contracts.envelope import CanonicalEvent
from contracts.vocab import Audience
from services.protection.keys import KeyStore
from services.protection.sealing import Opener
from services.subscriber.opening import SHREDDED, UNREADABLE, WITHHELD, open_fields

__all__ = [
    "SHREDDED",
    "UNREADABLE",
    "WITHHELD",
    "Entry",
    "build_chronology",
    "disclosure_record",
    "mentions",
    "open_entry",
]


@dataclass(frozen=True)
class Entry:
    """One event in the chronology."""

    occurred_at: datetime
    partner: str
    kind: str
    event_id: str
    summary: dict[str, Any]
    opened: dict[str, Any] = field(default_factory=dict)


def mentions(event: CanonicalEvent, subject: str) -> bool:
    """Whether ``event`` is about ``subject`` (as its subject, or among anyone's tokens)."""
    if event.subject == subject or any(k.token == subject for k in event.correlation_keys):
        return True
    return subject in event.data.model_dump_json()


def _summary(data: BaseModel) -> dict[str, Any]:
    plain = data.model_dump(mode="json", exclude_none=True)
    keep = (
        "category",
        "classification",
        "hate_motivated",
        "reporting_agency",
        "intervention",
        "issued_on",
        "expires_on",
        "victim_risk",
        "active_from",
        "ended_on",
        "referred_on",
        "status",
        "event",
        "effective_on",
    )
    return {k: plain[k] for k in keep if k in plain}


def open_entry(event: CanonicalEvent, opener: Opener) -> Entry:
    """One event as an entry, each sealed field opened for the opener's audience or withheld."""
    return Entry(
        occurred_at=event.occurred_at,
        partner=event.partner.value,
        kind=event.data.kind,
        event_id=event.id,
        summary=_summary(event.data),
        opened=open_fields(event.data, event.id, opener.audience, opener.keys).shown(),
    )


def build_chronology(
    events: Iterable[CanonicalEvent], subject: str, audience: Audience, keys: KeyStore
) -> list[Entry]:
    """The subject's events in time order, with every sealed field opened or withheld."""
    opener = Opener(keys, audience)
    found = {e.id: e for e in events if mentions(e, subject)}  # a redelivered event shows once
    return [
        open_entry(event, opener)
        for event in sorted(found.values(), key=lambda e: (e.occurred_at, e.id))
    ]


def disclosure_record(
    entries: list[Entry],
    subject: str,
    audience: Audience,
    *,
    purpose: str,
    justification: str,
    actor: str,
    alert_ids: tuple[str, ...] = (),
) -> AuditRecord:
    """The audit record of showing ``entries`` to ``audience`` (for ``alert_ids``, if any)."""
    opened = sorted(
        {
            p
            for e in entries
            for p, v in e.opened.items()
            if v not in (WITHHELD, SHREDDED, UNREADABLE)
        }
    )
    return AuditRecord(
        record_id=str(uuid.uuid4()),
        at=datetime.now(UTC),
        actor=actor,
        action=AuditAction.DISCLOSURE,
        subject=subject,
        purpose=purpose,
        justification=justification[:500],
        recipient=audience.value,
        fields=tuple(opened),
        outcome=f"chronology of {len(entries)} event(s) disclosed",
        related_ids=alert_ids,
    )
