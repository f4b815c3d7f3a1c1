"""What normalising one partner message can lead to."""

from __future__ import annotations

from dataclasses import dataclass

from contracts.audit import AuditRecord
from contracts.envelope import CanonicalEvent
from contracts.rejection import RejectedMessage
from services.normalise.port import DroppedFact
from services.normalise.seen import SeenEntry

__all__ = ["Accepted", "Duplicate", "InboundRecord", "Outcome", "Rejected"]


@dataclass(frozen=True)
class InboundRecord:
    """A partner record as read from its inbound topic."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class Accepted:
    """The message became canonical events (possibly none, if every fact was dropped)."""

    partner: str
    message_id: str
    message_key: str
    digest: str
    source_system: str
    events: tuple[CanonicalEvent, ...]
    dropped: tuple[DroppedFact, ...]
    traceparent: str
    #: POLICY_CHANGED records: the agreement these events were sealed under is new to us.
    policy_changes: tuple[AuditRecord, ...] = ()

    @property
    def seen_entry(self) -> SeenEntry:
        """What to remember about this message id."""
        return SeenEntry(self.digest, tuple(e.id for e in self.events))


@dataclass(frozen=True)
class Rejected:
    """The message was refused; the rejection carries its sealed original bytes."""

    rejection: RejectedMessage
    traceparent: str


@dataclass(frozen=True)
class Duplicate:
    """An exact redelivery of a message already normalised."""

    message_id: str
    digest: str
    event_ids: tuple[str, ...]
    traceparent: str


Outcome = Accepted | Rejected | Duplicate
