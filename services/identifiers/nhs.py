"""NHS numbers: ten digits, the last a modulus-11 check digit (checked by ``nhs-number``)."""

from __future__ import annotations

import re

import nhs_number

from contracts.vocab import RejectReason
from services.identifiers.errors import InvalidIdentifierError

__all__ = ["normalise_nhs_number"]

_SEPARATORS = re.compile(r"[\s-]")


def normalise_nhs_number(text: str) -> str:
    """Ten digits without spaces, or an error if the format or check digit is wrong."""
    digits = _SEPARATORS.sub("", text)
    if not re.fullmatch(r"[0-9]{10}", digits):
        raise InvalidIdentifierError(
            RejectReason.INVALID_NHS_NUMBER, "NHS number must be 10 digits"
        )
    if not nhs_number.is_valid(digits):
        raise InvalidIdentifierError(
            RejectReason.INVALID_NHS_NUMBER, "NHS number check digit does not match (modulus 11)"
        )
    return digits
