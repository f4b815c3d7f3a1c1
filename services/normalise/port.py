"""The port each partner implements: parse its bytes, then map them to canonical events.

A partner package (``services.partners.<name>``) provides a :class:`PartnerAdapter`. ``parse`` turns
raw bytes into the partner's validated message or raises :class:`Refusal` with a reason code;
``to_canonical`` is pure mapping: partner message in, canonical events (and the facts deliberately
dropped) out. Neither touches Kafka.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from contracts.rejection import ErrorDetail
from contracts.vocab import Partner, RejectReason
from services.normalise.context import MappingContext

__all__ = ["DroppedFact", "MappingResult", "Parsed", "PartnerAdapter", "Refusal"]


class Refusal(Exception):  # noqa: N818 - a refusal is an outcome, not a programming error
    """The partner message cannot be accepted. Its text must not repeat personal data."""

    def __init__(
        self, reason: RejectReason, message: str, errors: tuple[ErrorDetail, ...] = ()
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.errors = errors


@dataclass(frozen=True)
class Parsed:
    """A partner message that passed its format's validation."""

    message_id: str
    source_system: str
    body: Any


@dataclass(frozen=True)
class DroppedFact:
    """Something the partner sent that the purpose does not need, so it never left the edge."""

    fact_key: str
    what: str
    why: str


@dataclass
class MappingResult:
    """The canonical events a message became, and what was dropped on the way."""

    events: list[Any] = field(default_factory=list)
    dropped: list[DroppedFact] = field(default_factory=list)


class PartnerAdapter(Protocol):
    """One partner's format and mapping."""

    partner: Partner

    def parse(self, raw: bytes, headers: Mapping[str, str]) -> Parsed:
        """Validate ``raw``; raise :class:`Refusal` if it is not an acceptable message."""
        ...

    def to_canonical(self, parsed: Parsed, ctx: MappingContext) -> MappingResult:
        """Map a parsed message to canonical events (pure, apart from sealing and tokens)."""
        ...
