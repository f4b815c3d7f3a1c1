"""Cross-field rules the housing and police formats share, raised as pydantic errors.

JSON Schema cannot say "a UPRN or address lines" or "reported after it occurred", so each model
checks such rules in a ``model_validator``. The formats name some fields differently
(``hate_incident`` against ``hate_flag``, ``person_ref`` against ``police_person_id``), so a
model passes its values, and the names its partner knows them by; the error kind and text,
which partners code against, are written once. No text repeats an offending value.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic_core import PydanticCustomError

from services.partners.common.fields import ActionTerms

__all__ = [
    "check_hate_strand",
    "check_terms",
    "check_times",
    "fail",
    "require_identity",
    "require_place",
]


def fail(kind: str, message: str) -> PydanticCustomError:
    """A validation error of ``kind`` (its reason code) that says what to fix."""
    return PydanticCustomError(kind, message)


def require_place(uprn: str | None, address_lines: Sequence[str]) -> None:
    """A place must be locatable: by UPRN, else by address lines."""
    if uprn is None and not address_lines:
        raise fail("place_unlocatable", "give a uprn or address_lines")


def require_identity(
    ref_field: str,
    ref: str | None,
    family_name: str | None,
    organisation_name: str | None,
    party_type: str,
) -> None:
    """A party needs something to match on; a business or community group needs its name."""
    if not (ref or family_name or organisation_name):
        raise fail("person_unidentified", f"give {ref_field}, family_name or organisation_name")
    if party_type != "individual" and not organisation_name:
        raise fail("organisation_missing", "a business or community group needs organisation_name")


def check_times(occurred_from: datetime, occurred_to: datetime | None, reported: datetime) -> None:
    """An incident is reported after it began, and ends (if it has) after it began."""
    if reported < occurred_from:
        raise fail("time_order", "reported_at is before occurred_from")
    if occurred_to is not None and occurred_to < occurred_from:
        raise fail("time_order", "occurred_to is before occurred_from")


def check_hate_strand(flag_field: str, flag: bool, strand: str | None) -> None:
    """A hate strand is only for an incident flagged as hate-motivated."""
    if strand is not None and not flag:
        raise fail("hate_strand", f"hate_strand needs {flag_field} true")


def check_terms(action: ActionTerms) -> None:
    """A term is a duration or an expiry date (not both), ending within ten years of its start.

    The ten-year bound matches :class:`~services.partners.common.fields.Duration`'s, so the
    canonical ``duration_days`` stays within its contract either way the term is given.
    """
    if action.duration is not None and action.expires_on is not None:
        raise fail("duration_or_expiry", "give duration or expires_on, not both")
    start = action.effective_from or action.issued_at.date()
    if action.expires_on is not None and (action.expires_on - start).days > 3660:
        raise fail("duration_range", "expires_on must be within ten years")
    if action.expires_on is not None and action.expires_on < start:
        raise fail("time_order", "expires_on is before the action takes effect")
