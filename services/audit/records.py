"""Building audit records for what a normaliser did with a partner message.

Audit records are metadata: which data classes and field paths, tokens and digests, never
values. Record ids are deterministic, so a redelivered step does not look like a second one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime

from pydantic import BaseModel

from contracts.audit import AuditAction, AuditRecord
from contracts.envelope import CanonicalEvent
from contracts.protected import SealedField
from services.normalise.outcome import Accepted, Duplicate, Rejected

__all__ = ["audit_records", "sealed_fields"]

_NS = uuid.UUID("0e4a3f8e-2f47-4b8e-8f19-53b1c1f0a2d4")


def _record_id(*parts: str) -> str:
    return str(uuid.uuid5(_NS, "|".join(parts)))


def sealed_fields(model: BaseModel) -> Iterator[SealedField]:
    """Every sealed field inside a contract model, depth first."""
    for name in type(model).model_fields:
        value = getattr(model, name)
        items = value if isinstance(value, tuple) else (value,)
        for item in items:
            if isinstance(item, SealedField):
                yield item
            elif isinstance(item, BaseModel):
                yield from sealed_fields(item)


def _published(actor: str, at: datetime, event: CanonicalEvent) -> AuditRecord:
    sealed = list(sealed_fields(event.data))
    return AuditRecord(
        record_id=_record_id("published", event.id),
        at=at,
        actor=actor,
        action=AuditAction.CANONICAL_PUBLISHED,
        partner=event.partner.value,
        event_id=event.id,
        event_type=event.type,
        subject=event.subject,
        purpose=event.purpose.value,
        lawful_basis=event.lawful_basis.value,
        recipient=",".join(sorted({a.value for f in sealed for a in f.audiences})) or None,
        data_classes=tuple(sorted({f.data_class for f in sealed})),
        fields=tuple(f.path for f in sealed),
        key_ids=tuple(
            sorted(
                {k.kid for f in sealed for k in f.keys}
                | {r for f in sealed for r in f.retention_kids}
            )
        ),
        message_sha256=event.partner_message_digest,
    )


def audit_records(
    actor: str, at: datetime, outcome: Accepted | Rejected | Duplicate
) -> list[AuditRecord]:
    """The audit trail of one normalising outcome."""
    if isinstance(outcome, Rejected):
        rej = outcome.rejection
        return [
            AuditRecord(
                record_id=_record_id("rejected", rej.reject_id),
                at=at,
                actor=actor,
                action=AuditAction.INBOUND_REJECTED,
                partner=rej.partner.value,
                recipient=rej.partner.value,
                data_classes=("original_message",),
                key_ids=tuple(k.kid for k in rej.original.keys),
                message_sha256=rej.original_sha256,
                outcome=f"{rej.reason.value}: {rej.message}"[:300],
            )
        ]
    if isinstance(outcome, Duplicate):
        return [
            AuditRecord(
                record_id=_record_id("duplicate", outcome.digest, at.isoformat()),
                at=at,
                actor=actor,
                action=AuditAction.INBOUND_DUPLICATE,
                message_sha256=outcome.digest,
                outcome=f"exact redelivery of an accepted message; {len(outcome.event_ids)} "
                "event(s) already published, none repeated",
            )
        ]
    partner = outcome.partner
    records = [
        *outcome.policy_changes,
        AuditRecord(
            record_id=_record_id("accepted", outcome.message_key, outcome.digest),
            at=at,
            actor=actor,
            action=AuditAction.INBOUND_ACCEPTED,
            partner=partner,
            message_sha256=outcome.digest,
            outcome=f"{len(outcome.events)} event(s) published, {len(outcome.dropped)} dropped",
        ),
    ]
    records += [
        AuditRecord(
            record_id=_record_id("dropped", outcome.message_key, outcome.digest, drop.fact_key),
            at=at,
            actor=actor,
            action=AuditAction.FACT_DROPPED,
            partner=partner,
            message_sha256=outcome.digest,
            data_classes=(drop.what,),
            justification=drop.why,
            outcome="not shared: outside the purpose of the agreement",
        )
        for drop in outcome.dropped
    ]
    records += [_published(actor, at, event) for event in outcome.events]
    return records
