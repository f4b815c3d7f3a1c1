"""Personal names, normalised for tokenising, and the variants used by scored linkage.

Agencies spell the same person differently ("Zoë O'Neill", "ZOE ONEILL", "Z. O'Neill"), so one
name yields several tokens: the full normalised name, and family name with first initial. Every
variant is tokenised together with the date of birth where known.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

__all__ = ["name_variants", "normalise_name"]


def normalise_name(text: str) -> str:
    """Upper-case ASCII letters and single spaces; apostrophes and hyphens removed."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    cleaned = re.sub(r"['\u2019`]", "", ascii_text)
    cleaned = re.sub(r"[^A-Za-z]+", " ", cleaned)
    return " ".join(cleaned.upper().split())


def name_variants(given: str, family: str, birth_date: date | None) -> list[str]:
    """Normalised ``name|dob`` strings, strongest first, de-duplicated."""
    given_n, family_n = normalise_name(given), normalise_name(family)
    dob = birth_date.isoformat() if birth_date else "-"
    variants = []
    if given_n and family_n:
        variants.append(f"{given_n.split()[0]} {family_n}|{dob}")
        variants.append(f"{given_n[0]} {family_n}|{dob}")
    elif family_n:
        variants.append(f"{family_n}|{dob}")
    return list(dict.fromkeys(variants))
