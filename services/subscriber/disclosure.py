"""The audit record of a subscriber opening a record: who, what, about whom, why, for whom."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from contracts.audit import AuditAction, AuditRecord
from contracts.vocab import Audience, Purpose
from services.subscriber.opening import OpenedFields

__all__ = ["Reader", "disclosure_record"]


@dataclass(frozen=True)
class Reader:
    """Who is reading, as which audience, for what purpose and why (DPA 2018 s.62)."""

    user: str
    organisation: str
    audience: Audience
    purpose: Purpose
    justification: str

    def __post_init__(self) -> None:
        if len(self.justification.strip()) < 10:
            raise ValueError("a justification of at least 10 characters is required to open data")
        if not self.user.strip():
            raise ValueError("the reading user must be named")

    @property
    def actor(self) -> str:
        """The audit actor: ``subscriber:<organisation>:<user>``."""
        return f"subscriber:{self.organisation}:{self.user}"


def disclosure_record(
    reader: Reader,
    opened: OpenedFields,
    *,
    at: datetime,
    event_id: str,
    event_type: str,
    subject: str | None,
    message_sha256: str,
    what: str,
    alert_ids: tuple[str, ...] = (),
) -> AuditRecord:
    """The audit record of one opened record (reading it again is a new disclosure)."""
    not_shown = len(opened.withheld) + len(opened.shredded) + len(opened.unreadable)
    return AuditRecord(
        record_id=str(uuid.uuid4()),
        at=at,
        actor=reader.actor,
        action=AuditAction.DISCLOSURE,
        event_id=event_id,
        event_type=event_type,
        subject=subject,
        purpose=reader.purpose.value,
        justification=reader.justification[:500],
        recipient=f"{reader.organisation} ({reader.audience.value})",
        data_classes=opened.data_classes,
        fields=tuple(sorted(opened.values)),
        key_ids=opened.key_ids,
        message_sha256=message_sha256,
        outcome=f"{what}: {len(opened.values)} field(s) opened, {not_shown} not shown"[:300],
        related_ids=alert_ids,
    )
