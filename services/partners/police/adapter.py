"""The police partner's implementation of the normaliser port.

``parse`` decodes JSON without any size rule of its own (the pipeline enforces the limit before
calling it) and validates the result against :mod:`services.partners.police.format`; every
failure becomes a :class:`Refusal` whose text names locations and problems, never values.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from pydantic import ValidationError

from contracts.rejection import ErrorDetail
from contracts.vocab import Partner, RejectReason
from services.normalise.context import MappingContext
from services.normalise.port import MappingResult, Parsed, Refusal
from services.normalise.refusals import refusal_from_json_error, refusal_from_validation
from services.partners.police.format import PoliceMessage
from services.partners.police.mapping import map_message

__all__ = ["PoliceAdapter", "check_content_type"]

_WHAT = "police message"


def check_content_type(headers: Mapping[str, str]) -> None:
    """Refuse a message whose declared content type is not JSON (an absent header is fine)."""
    declared = next(
        (v for k, v in headers.items() if k.lower() in ("content-type", "content_type")), None
    )
    if declared is None:
        return
    media = declared.split(";", 1)[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise Refusal(
            RejectReason.UNSUPPORTED_CONTENT_TYPE, f"{_WHAT}s are application/json, not {media}"
        )


class PoliceAdapter:
    """Police record management systems: POLE incidents and ASB powers used."""

    partner: Partner = Partner.POLICE

    def parse(self, raw: bytes, headers: Mapping[str, str]) -> Parsed:
        """Decode and validate ``raw``; raise :class:`Refusal` if it is not acceptable."""
        check_content_type(headers)
        try:
            document = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
            raise refusal_from_json_error(exc) from exc
        if not isinstance(document, dict):
            raise Refusal(
                RejectReason.SCHEMA_VIOLATION,
                f"{_WHAT} must be a JSON object",
                (ErrorDetail(location="(message)", problem="expected a JSON object"),),
            )
        try:
            message = PoliceMessage.model_validate(document)
        except ValidationError as exc:
            raise refusal_from_validation(exc, _WHAT) from exc
        return Parsed(message.message_id, message.source_system, message)

    def to_canonical(self, parsed: Parsed, ctx: MappingContext) -> MappingResult:
        """Map a message returned by :meth:`parse` to canonical events."""
        if not isinstance(parsed.body, PoliceMessage):
            raise TypeError(f"not a parsed police message: {type(parsed.body).__name__}")
        return map_message(parsed.body, ctx)
