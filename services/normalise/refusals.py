"""Turning validation failures into refusals a partner can act on, without echoing their data.

Pydantic's error messages can quote the offending input (a name, an NHS number). Refusals are
kept on a shared topic and in logs, so only the location and the kind of problem are kept.
Validators that know a more specific reason raise ``PydanticCustomError`` whose type is a
:class:`RejectReason` value (see :func:`identifier_error`); that reason wins over the generic
schema violation.
"""

from __future__ import annotations

import json

from pydantic import ValidationError
from pydantic_core import PydanticCustomError

from contracts.rejection import ErrorDetail
from contracts.vocab import RejectReason
from services.identifiers.errors import InvalidIdentifierError
from services.normalise.port import Refusal

__all__ = ["MAX_ERRORS", "identifier_error", "refusal_from_json_error", "refusal_from_validation"]

MAX_ERRORS = 20
_SPECIFIC = {reason.value: reason for reason in RejectReason}


def identifier_error(exc: InvalidIdentifierError) -> PydanticCustomError:
    """Re-raise an identifier problem inside a pydantic validator, keeping its reason code."""
    return PydanticCustomError(exc.reason.value, str(exc))


def _location(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(message)"


def refusal_from_validation(exc: ValidationError, what: str) -> Refusal:
    """A refusal listing where the message is wrong, with the most specific reason found."""
    errors = exc.errors(include_input=False, include_url=False, include_context=False)
    reason = next(
        (_SPECIFIC[e["type"]] for e in errors if e["type"] in _SPECIFIC),
        RejectReason.SCHEMA_VIOLATION,
    )
    details = tuple(
        ErrorDetail(location=_location(tuple(e["loc"]))[:300], problem=str(e["msg"])[:300])
        for e in errors[:MAX_ERRORS]
    )
    count = len(errors)
    message = f"{what} does not match its schema: {count} problem{'s' if count != 1 else ''}"
    if reason is not RejectReason.SCHEMA_VIOLATION:
        message = f"{what}: {details[0].problem}"
    return Refusal(reason, message, details)


def refusal_from_json_error(
    exc: json.JSONDecodeError | RecursionError | UnicodeDecodeError,
) -> Refusal:
    """A refusal for bytes that are not JSON at all (or nest too deep to parse safely)."""
    if isinstance(exc, RecursionError):
        return Refusal(RejectReason.HOSTILE_CONTENT, "JSON nests too deeply to parse safely")
    if isinstance(exc, UnicodeDecodeError):
        return Refusal(RejectReason.NOT_PARSEABLE, "message is not UTF-8 text")
    return Refusal(
        RejectReason.NOT_PARSEABLE,
        f"message is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})",
    )
