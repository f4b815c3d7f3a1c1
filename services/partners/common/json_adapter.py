"""The JSON half of a partner adapter: content type, decoding, validation and refusal.

Housing and police accept the same transport (one JSON object per record, ``application/json``
or a ``+json`` type, or no header) and must refuse a bad record with the same reasons, so the
flow is written once. ``what`` names the format in refusal text (``"housing message"``). No size
rule is applied here: the pipeline enforces the limit before an adapter is called. Every
failure becomes a :class:`Refusal` whose text names locations and problems, never values.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from contracts.rejection import ErrorDetail
from contracts.vocab import RejectReason
from services.normalise.port import Refusal
from services.normalise.refusals import refusal_from_json_error, refusal_from_validation

__all__ = ["check_content_type", "load_message"]

ModelT = TypeVar("ModelT", bound=BaseModel)


def check_content_type(headers: Mapping[str, str], what: str) -> None:
    """Refuse a message whose declared content type is not JSON (an absent header is fine)."""
    declared = next(
        (v for k, v in headers.items() if k.lower() in ("content-type", "content_type")), None
    )
    if declared is None:
        return
    media = declared.split(";", 1)[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise Refusal(
            RejectReason.UNSUPPORTED_CONTENT_TYPE, f"{what}s are application/json, not {media}"
        )


def load_message(raw: bytes, headers: Mapping[str, str], model: type[ModelT], what: str) -> ModelT:
    """Decode ``raw`` as one JSON object and validate it as ``model``, or raise a refusal."""
    check_content_type(headers, what)
    try:
        document = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise refusal_from_json_error(exc) from exc
    if not isinstance(document, dict):
        raise Refusal(
            RejectReason.SCHEMA_VIOLATION,
            f"{what} must be a JSON object",
            (ErrorDetail(location="(message)", problem="expected a JSON object"),),
        )
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise refusal_from_validation(exc, what) from exc
