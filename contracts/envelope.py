"""The canonical envelope: CloudEvents 1.0 attributes plus the governance asbx must carry.

On Kafka the envelope is the record value (``application/json``) and its CloudEvents attributes
are repeated as ``ce_*`` headers, as the CloudEvents Kafka protocol binding's *binary* mode lays
out, so any Kafka tool can route on type, source and subject without parsing the value.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contracts.events import EventData
from contracts.protected import CorrelationKey, Token
from contracts.vocab import LawfulBasis, Partner, Purpose

__all__ = ["SCHEMA_VERSION", "CanonicalEvent", "ce_type", "dataschema_uri"]

SCHEMA_VERSION = "1.0.0"
_TYPE_PREFIX = "uk.asbx."


def ce_type(kind: str) -> str:
    """CloudEvents ``type`` for an event kind, e.g. ``uk.asbx.asb_incident_reported.v1``."""
    return f"{_TYPE_PREFIX}{kind}.v1"


def dataschema_uri(kind: str) -> str:
    """Where the JSON Schema for an event kind is published (relative to the repository)."""
    return f"urn:asbx:schema:{kind}:{SCHEMA_VERSION}"


class CanonicalEvent(BaseModel):
    """One normalised fact from one partner, safe to put on a shared topic."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(description="Event id, deterministic per partner message and fact.")
    source: str = Field(description="URI of the partner system, e.g. /partners/police/niche.")
    type: str = Field(pattern=r"^uk\.asbx\.[a-z_]+\.v[0-9]+$")
    subject: Token = Field(description="Token of the primary subject; also the record key.")
    time: AwareDatetime = Field(description="When the fact occurred (CloudEvents time).")
    dataschema: str
    datacontenttype: Literal["application/json"] = "application/json"

    schema_version: str = SCHEMA_VERSION
    partner: Partner
    source_system: str = Field(max_length=80)
    partner_message_digest: str = Field(
        pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the partner message it came from."
    )
    occurred_at: AwareDatetime
    recorded_at: AwareDatetime = Field(description="When asbx normalised it.")
    purpose: Purpose
    lawful_basis: LawfulBasis
    agreement: str = Field(description="Id and version of the data-sharing agreement applied.")
    correlation_keys: tuple[CorrelationKey, ...] = ()
    traceparent: str | None = Field(
        default=None, pattern=r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"
    )
    data: EventData
