"""The housing partner's implementation of the normaliser port.

``parse`` decodes JSON without any size rule of its own (the pipeline enforces the limit before
calling it) and validates the result against :mod:`services.partners.housing.format`; every
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
from services.partners.housing.format import (
    AsbActionMessage,
    AsbCaseReportMessage,
    HousingMessage,
    TenancyMessage,
)
from services.partners.housing.mapping import map_message

__all__ = ["HousingAdapter", "check_content_type"]

_WHAT = "housing message"


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


class HousingAdapter:
    """Housing association systems: tenancy, ASB case report and ASB action messages."""

    partner: Partner = Partner.HOUSING

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
            message = HousingMessage.model_validate(document).root
        except ValidationError as exc:
            raise refusal_from_validation(exc, _WHAT) from exc
        return Parsed(message.message_id, message.source_system, message)

    def to_canonical(self, parsed: Parsed, ctx: MappingContext) -> MappingResult:
        """Map a message returned by :meth:`parse` to canonical events."""
        body = parsed.body
        if not isinstance(body, TenancyMessage | AsbCaseReportMessage | AsbActionMessage):
            raise TypeError(f"not a parsed housing message: {type(body).__name__}")
        return map_message(body, ctx)
