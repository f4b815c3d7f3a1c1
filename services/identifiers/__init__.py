"""Normalising identifiers before they are tokenised, so that one person gives one token.

Each function returns the canonical text form or raises :class:`InvalidIdentifierError`, which
names the reject reason a partner will see.
"""

from services.identifiers.errors import InvalidIdentifierError
from services.identifiers.names import name_variants, normalise_name
from services.identifiers.nhs import normalise_nhs_number
from services.identifiers.places import (
    normalise_address,
    normalise_postcode,
    normalise_uprn,
    outward_code,
)

__all__ = [
    "InvalidIdentifierError",
    "name_variants",
    "normalise_address",
    "normalise_name",
    "normalise_nhs_number",
    "normalise_postcode",
    "normalise_uprn",
    "outward_code",
]
