"""Everything a partner mapping needs to produce protected canonical events.

The mapping says *what* a field is (its path and data class); the context decides *how* it is
protected: tokens under the shared token keys, sealing for the audiences the partner's agreement
names, deterministic event ids, and the envelope's governance attributes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from contracts.envelope import CanonicalEvent, ce_type, dataschema_uri
from contracts.events import EventData
from contracts.protected import CorrelationKey, SealedField
from contracts.vocab import Partner, TokenKind
from services.protection.keys import KeyStore
from services.protection.retention import RetentionScope, period_of
from services.protection.sealing import FieldSealer
from services.protection.tokens import Tokeniser
from services.sharing.agreements import Agreement

__all__ = ["EVENT_ID_NAMESPACE", "EventSealer", "MappingContext"]

#: Namespace for UUIDv5 event ids: the same partner message always yields the same event ids,
#: so a redelivery that slips past de-duplication is still recognisable downstream.
EVENT_ID_NAMESPACE = uuid.UUID("5b0f5a9e-6c3e-4a53-9a51-2f2c3f0d7a11")


class EventSealer:
    """Seals the fields of one event under the partner's agreement.

    Retention: every field is bound to the month the message was recorded in and to a subject.
    A person's own details are bound to that person; everything else to the event's subject,
    which is the first person the mapping describes (mappings describe the subject first).
    """

    def __init__(
        self, keys: KeyStore, event_id: str, agreement: Agreement, period: str | None = None
    ) -> None:
        # One FieldSealer per event: it shares one key agreement per audience across fields.
        self._sealer = FieldSealer(keys, event_id, RetentionScope(period=period))
        self._agreement = agreement
        self.event_id = event_id
        self.subject: str | None = None

    def bind_subject(self, subject: str) -> None:
        """Make ``subject`` the event's retention subject, unless one is already bound."""
        if self.subject is None:
            self.subject = subject

    def seal(
        self, path: str, data_class: str, value: Any, *, subject: str | None = None
    ) -> SealedField:
        """Seal ``value`` for the audiences the agreement gives ``data_class``."""
        return self._sealer.seal(
            path,
            data_class,
            value,
            self._agreement.audiences(data_class),
            subject=subject or self.subject,
        )

    def seal_if(
        self, path: str, data_class: str, value: Any, *, subject: str | None = None
    ) -> SealedField | None:
        """Seal only a value that is present (empty strings and collections count as absent)."""
        if value is None or value in ("", [], {}):
            return None
        return self.seal(path, data_class, value, subject=subject)


@dataclass(frozen=True)
class MappingContext:
    """Per-message context handed to ``PartnerAdapter.to_canonical``."""

    partner: Partner
    source_system: str
    message_id: str
    message_digest: str
    recorded_at: datetime
    agreement: Agreement
    tokeniser: Tokeniser
    keys: KeyStore
    traceparent: str | None = None

    def token(self, kind: TokenKind, normalised_value: str) -> str:
        """Token for an identifier already normalised for its type."""
        return self.tokeniser.token(kind, normalised_value)

    def key(self, kind: TokenKind, normalised_value: str) -> CorrelationKey:
        """Correlation key for an identifier already normalised for its type."""
        return self.tokeniser.key(kind, normalised_value)

    def event_id(self, fact_key: str) -> str:
        """Deterministic id for the fact ``fact_key`` of this message."""
        name = f"{self.partner.value}|{self.message_id}|{self.message_digest}|{fact_key}"
        return str(uuid.uuid5(EVENT_ID_NAMESPACE, name))

    def sealer(self, event_id: str) -> EventSealer:
        """A sealer bound to one event id."""
        return EventSealer(self.keys, event_id, self.agreement, period_of(self.recorded_at))

    def envelope(
        self,
        *,
        event_id: str,
        subject: str,
        occurred_at: datetime,
        data: EventData,
        correlation_keys: tuple[CorrelationKey, ...] = (),
    ) -> CanonicalEvent:
        """Wrap event data in the canonical envelope with this message's governance."""
        return CanonicalEvent(
            id=event_id,
            source=f"/partners/{self.partner.value}/{self.source_system}",
            type=ce_type(data.kind),
            subject=subject,
            time=occurred_at,
            dataschema=dataschema_uri(data.kind),
            partner=self.partner,
            source_system=self.source_system,
            partner_message_digest=self.message_digest,
            occurred_at=occurred_at,
            recorded_at=self.recorded_at,
            purpose=self.agreement.purpose,
            lawful_basis=self.agreement.lawful_basis,
            agreement=self.agreement.ref,
            correlation_keys=correlation_keys,
            traceparent=self.traceparent,
            data=data,
        )
