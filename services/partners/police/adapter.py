"""The police partner's implementation of the normaliser port.

``parse`` hands the JSON transport to :mod:`services.partners.common.json_adapter` (decoding,
content type, refusals that name locations and problems, never values) and validates against
:mod:`services.partners.police.format`; what stays here is which model is police's.
"""

from __future__ import annotations

from collections.abc import Mapping

from contracts.vocab import Partner
from services.normalise.context import MappingContext
from services.normalise.port import MappingResult, Parsed
from services.partners.common import json_adapter
from services.partners.police.format import PoliceMessage
from services.partners.police.mapping import map_message

__all__ = ["PoliceAdapter"]

_WHAT = "police message"


class PoliceAdapter:
    """Police record management systems: POLE incidents and ASB powers used."""

    partner: Partner = Partner.POLICE

    def parse(self, raw: bytes, headers: Mapping[str, str]) -> Parsed:
        """Decode and validate ``raw``; raise :class:`Refusal` if it is not acceptable."""
        message = json_adapter.load_message(raw, headers, PoliceMessage, _WHAT)
        return Parsed(message.message_id, message.source_system, message)

    def to_canonical(self, parsed: Parsed, ctx: MappingContext) -> MappingResult:
        """Map a message returned by :meth:`parse` to canonical events."""
        if not isinstance(parsed.body, PoliceMessage):
            raise TypeError(f"not a parsed police message: {type(parsed.body).__name__}")
        return map_message(parsed.body, ctx)
