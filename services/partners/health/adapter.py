"""The health partner's adapter: FHIR R4 (UK Core) in, safeguarding-relevant canonical events out.

``parse`` does everything that can refuse a message (syntax, FHIR validation, the health
profile, and the publish/drop decision), so ``to_canonical`` only protects and wraps facts that
are already known to be publishable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from contracts.vocab import Partner
from services.normalise.context import MappingContext
from services.normalise.port import DroppedFact, MappingResult, Parsed
from services.partners.health.events import build
from services.partners.health.format import load_resource
from services.partners.health.mapping import Planned, plan
from services.partners.health.profile import HealthMessage, read_message

__all__ = ["HealthAdapter", "HealthPlan"]


@dataclass(frozen=True)
class HealthPlan:
    """``Parsed.body`` for health: the profiled message and the decision about each fact."""

    message: HealthMessage
    planned: tuple[Planned, ...]
    dropped: tuple[DroppedFact, ...]


class HealthAdapter:
    """Implements :class:`services.normalise.port.PartnerAdapter` for health."""

    partner = Partner.HEALTH

    def parse(self, raw: bytes, headers: Mapping[str, str]) -> Parsed:
        """Validate the FHIR message and decide what of it may be shared."""
        resource, syntax = load_resource(raw, headers)
        message = read_message(resource, syntax, headers)
        planned, dropped = plan(message)
        body = HealthPlan(message, tuple(planned), tuple(dropped))
        return Parsed(message_id=message.message_id, source_system=message.source_system, body=body)

    def to_canonical(self, parsed: Parsed, ctx: MappingContext) -> MappingResult:
        """Protect each planned fact into a canonical event; report the dropped ones."""
        body: HealthPlan = parsed.body
        return MappingResult(
            events=[build(item, ctx) for item in body.planned], dropped=list(body.dropped)
        )
