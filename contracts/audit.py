"""Audit records: one per exchange step, for information-governance review.

Metadata only. An audit record names data classes and field paths, tokens and digests; it never
carries the data itself.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contracts.protected import Token

__all__ = ["AuditAction", "AuditRecord"]


class AuditAction(StrEnum):
    """What happened."""

    INBOUND_ACCEPTED = "inbound_accepted"
    INBOUND_REJECTED = "inbound_rejected"
    INBOUND_DUPLICATE = "inbound_duplicate"
    FACT_DROPPED = "fact_dropped"
    CANONICAL_PUBLISHED = "canonical_published"
    ALERT_RAISED = "alert_raised"
    DISCLOSURE = "disclosure"
    CASEWORK_RECORDED = "casework_recorded"
    POLICY_CHANGED = "policy_changed"
    KEY_CHANGED = "key_changed"


class AuditRecord(BaseModel):
    """Who did what to which data, when, why, and for whom."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    record_id: str
    at: AwareDatetime
    actor: str = Field(description="Service or user that acted, e.g. normaliser:health.")
    action: AuditAction
    partner: str | None = None
    event_id: str | None = None
    event_type: str | None = None
    subject: Token | None = None
    purpose: str | None = None
    lawful_basis: str | None = None
    justification: str | None = Field(default=None, max_length=500)
    recipient: str | None = None
    data_classes: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()
    key_ids: tuple[str, ...] = ()
    message_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    outcome: str | None = Field(default=None, max_length=300)
    related_ids: tuple[str, ...] = Field(
        default=(),
        description="Ids this record rests on: an alert's contributing canonical event ids; "
        "the alert ids a disclosure was made for. Left out of the JSON when empty, so records "
        "written before it existed keep their bytes (and their audit-log leaf hashes).",
        exclude_if=lambda ids: not ids,
    )
