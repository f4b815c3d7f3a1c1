"""The record a normaliser writes when it refuses a partner message.

The original bytes are kept, sealed for the partner who sent them (they may hold personal data
that is not allowed on any shared topic), so the partner can see exactly what was refused and
why, and IG can see that it happened, without anyone else reading it.
"""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contracts.protected import SealedField
from contracts.vocab import Partner, RejectReason

__all__ = ["ErrorDetail", "RejectedMessage"]


class ErrorDetail(BaseModel):
    """One problem found, located in the partner message; never echoes the offending value."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    location: str = Field(max_length=300)
    problem: str = Field(max_length=300)


class RejectedMessage(BaseModel):
    """A refused partner message, its reason, and its sealed original bytes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reject_id: str
    partner: Partner
    reason: RejectReason
    message: str = Field(max_length=500, description="Readable explanation for the partner.")
    errors: tuple[ErrorDetail, ...] = ()
    partner_message_id: str | None = Field(default=None, max_length=200)
    source_topic: str
    source_partition: int
    source_offset: int
    received_at: AwareDatetime
    original_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    original_size: int = Field(ge=0)
    original: SealedField
