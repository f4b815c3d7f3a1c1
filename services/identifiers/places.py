"""UPRNs, postcodes and free-text addresses.

A UPRN is a positive integer of up to 12 digits (OS AddressBase); leading zeros carry no meaning,
so ``000010001234`` and ``10001234`` are one property. Addresses without a UPRN are joined on a
token of a normalised form: upper case, punctuation dropped, common abbreviations expanded, with
the normalised postcode.
"""

from __future__ import annotations

import re
import unicodedata

from contracts.vocab import RejectReason
from services.identifiers.errors import InvalidIdentifierError

__all__ = ["normalise_address", "normalise_postcode", "normalise_uprn", "outward_code"]

# GOV.UK / ONS postcode shape (covers GIR 0AA and the BFPO-free civilian forms).
_POSTCODE = re.compile(
    r"^(GIR ?0AA|[A-PR-UWYZ][0-9][0-9]? ?[0-9][ABD-HJLNP-UW-Z]{2}"
    r"|[A-PR-UWYZ][A-HK-Y][0-9][0-9]? ?[0-9][ABD-HJLNP-UW-Z]{2}"
    r"|[A-PR-UWYZ][0-9][A-HJKPSTUW] ?[0-9][ABD-HJLNP-UW-Z]{2}"
    r"|[A-PR-UWYZ][A-HK-Y][0-9][ABEHMNPRVWXY] ?[0-9][ABD-HJLNP-UW-Z]{2})$"
)
_ABBREVIATIONS = {
    "RD": "ROAD",
    "ST": "STREET",
    "AVE": "AVENUE",
    "AV": "AVENUE",
    "CL": "CLOSE",
    "CRES": "CRESCENT",
    "CT": "COURT",
    "DR": "DRIVE",
    "GDNS": "GARDENS",
    "GRN": "GREEN",
    "GR": "GROVE",
    "HSE": "HOUSE",
    "LN": "LANE",
    "PL": "PLACE",
    "SQ": "SQUARE",
    "TER": "TERRACE",
    "TERR": "TERRACE",
    "FLT": "FLAT",
}


def normalise_uprn(text: str | int) -> str:
    """The UPRN as digits without leading zeros."""
    raw = str(text).strip()
    if not re.fullmatch(r"[0-9]{1,12}", raw) or int(raw) == 0:
        raise InvalidIdentifierError(RejectReason.INVALID_UPRN, "UPRN must be 1 to 12 digits")
    return str(int(raw))


def normalise_postcode(text: str) -> str:
    """``SW1A 1AA`` form: upper case, one space before the inward code."""
    compact = re.sub(r"\s+", "", text).upper()
    if not _POSTCODE.match(compact) or len(compact) < 5:
        raise InvalidIdentifierError(RejectReason.INVALID_POSTCODE, "not a valid UK postcode")
    return f"{compact[:-3]} {compact[-3:]}"


def outward_code(postcode: str) -> str:
    """The district part of a normalised postcode (``M14 5TQ`` → ``M14``)."""
    return postcode.split(" ", 1)[0]


def normalise_address(lines: list[str], postcode: str | None) -> str:
    """A stable text form of an address for tokenising when no UPRN is known."""
    text = " ".join(lines)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.sub(r"[^A-Za-z0-9 ]+", " ", text).upper().split()
    expanded = [_ABBREVIATIONS.get(word, word) for word in words]
    if postcode:
        expanded.append(normalise_postcode(postcode).replace(" ", ""))
    if not expanded:
        raise InvalidIdentifierError(RejectReason.SCHEMA_VIOLATION, "address is empty")
    return " ".join(expanded)
