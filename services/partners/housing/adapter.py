"""The housing partner's implementation of the normaliser port.

``parse`` hands the JSON transport to :mod:`services.partners.common.json_adapter` (decoding,
content type, refusals that name locations and problems, never values) and validates against
:mod:`services.partners.housing.format`; what stays here is which models are housing's.
"""

from __future__ import annotations

from collections.abc import Mapping

from contracts.vocab import Partner
from services.normalise.context import MappingContext
from services.normalise.port import MappingResult, Parsed
from services.partners.common import json_adapter
from services.partners.housing.format import (
    AsbActionMessage,
    AsbCaseReportMessage,
    HousingMessage,
    TenancyMessage,
)
from services.partners.housing.mapping import map_message

__all__ = ["HousingAdapter"]

_WHAT = "housing message"


class HousingAdapter:
    """Housing association systems: tenancy, ASB case report and ASB action messages."""

    partner: Partner = Partner.HOUSING

    def parse(self, raw: bytes, headers: Mapping[str, str]) -> Parsed:
        """Decode and validate ``raw``; raise :class:`Refusal` if it is not acceptable."""
        message = json_adapter.load_message(raw, headers, HousingMessage, _WHAT).root
        return Parsed(message.message_id, message.source_system, message)

    def to_canonical(self, parsed: Parsed, ctx: MappingContext) -> MappingResult:
        """Map a message returned by :meth:`parse` to canonical events."""
        body = parsed.body
        if not isinstance(body, TenancyMessage | AsbCaseReportMessage | AsbActionMessage):
            raise TypeError(f"not a parsed housing message: {type(body).__name__}")
        return map_message(body, ctx)
