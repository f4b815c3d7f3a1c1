"""Field types of the partner JSON formats: strict, zone-aware, identifiers checked at the edge.

Housing and police describe the same things (people, places, references, intervention terms),
and a person or address must be accepted or refused alike whichever agency sends it, so both
formats build their models from these types.

The models validate decoded JSON in pydantic's *strict* mode so that ``"yes"`` is not a boolean
and ``"48"`` is not a number. JSON has no date type, so dates and times are the one place strict
mode is relaxed, and only for ISO 8601 text (a bare number is not a timestamp here). UPRNs and
postcodes are checked by ``services.identifiers`` and fail with their own reason code
(``invalid_uprn``, ``invalid_postcode``) rather than a generic schema violation. No error text
repeats the offending value: refusals are kept where other people can read them.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal, Protocol

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)
from pydantic_core import PydanticCustomError

from services.identifiers import InvalidIdentifierError, normalise_postcode, normalise_uprn
from services.normalise.refusals import identifier_error

__all__ = [
    "ActionTerms",
    "BirthDate",
    "Duration",
    "Email",
    "IsoDate",
    "IsoDateTime",
    "Name",
    "Phone",
    "Postcode",
    "Ref",
    "RiskLevelCode",
    "Strict",
    "Text",
    "Uprn",
]


class Strict(BaseModel):
    """Base of every partner message model: no unknown fields, no type coercion, immutable."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


def _iso_text(value: Any) -> Any:
    if not isinstance(value, str):
        raise PydanticCustomError("iso_8601", "must be an ISO 8601 string")
    return value


def _uprn(value: str) -> str:
    try:
        return normalise_uprn(value)
    except InvalidIdentifierError as exc:
        raise identifier_error(exc) from exc


def _postcode(value: str) -> str:
    try:
        return normalise_postcode(value)
    except InvalidIdentifierError as exc:
        raise identifier_error(exc) from exc


def _plausible_birth(value: date) -> date:
    if not date(1900, 1, 1) <= value <= date(2100, 12, 31):
        raise PydanticCustomError("birth_date_range", "date of birth must be from 1900 onwards")
    return value


def _plausible(value: date) -> date:
    # Year 221 is valid ISO 8601 but no partner record is from then; such dates also break
    # round trips (Europe/London before 1847 has a seconds offset JSON cannot carry).
    if not 1900 <= value.year <= 2100:
        raise PydanticCustomError("date_range", "dates must be between 1900 and 2100")
    return value


IsoDateTime = Annotated[
    AwareDatetime,
    BeforeValidator(_iso_text),
    AfterValidator(_plausible),
    Field(strict=False, description="ISO 8601 date-time with a zone offset or Z."),
]
IsoDate = Annotated[
    date,
    BeforeValidator(_iso_text),
    AfterValidator(_plausible),
    Field(strict=False, description="ISO 8601 date."),
]
BirthDate = Annotated[IsoDate, AfterValidator(_plausible_birth)]
Ref = Annotated[
    str,
    StringConstraints(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9/_.-]*$"),
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Phone = Annotated[str, StringConstraints(max_length=30, pattern=r"^\+?[0-9][0-9 ()-]{5,28}$")]
Email = Annotated[str, StringConstraints(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
Text = Annotated[str, StringConstraints(min_length=1, max_length=20000)]
Uprn = Annotated[
    str,
    AfterValidator(_uprn),
    Field(
        description="Unique Property Reference Number: 1 to 12 digits, as a string.",
        json_schema_extra={"pattern": "^[0-9]{1,12}$"},
    ),
]
Postcode = Annotated[str, AfterValidator(_postcode), Field(description="Full UK postcode.")]
RiskLevelCode = Literal["standard", "medium", "high"]


def _add_months(start: datetime, months: int) -> datetime:
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return start.replace(
        year=year, month=month, day=min(start.day, calendar.monthrange(year, month)[1])
    )


class Duration(Strict):
    """How long an intervention lasts, as the order or notice states it (48 hours, 3 months)."""

    value: int = Field(ge=1, le=3660)
    unit: Literal["hours", "days", "weeks", "months"]

    @model_validator(mode="after")
    def _at_most_ten_years(self) -> Duration:
        days = {"hours": 1 / 24, "days": 1, "weeks": 7, "months": 31}[self.unit] * self.value
        if days > 3660:
            raise PydanticCustomError("duration_range", "duration must be at most ten years")
        return self

    def end(self, start: datetime) -> datetime:
        """When the intervention ends if it starts at ``start`` (calendar months for months)."""
        if self.unit == "months":
            return _add_months(start, self.value)
        return start + timedelta(**{self.unit: self.value})


class ActionTerms(Protocol):
    """The reference and terms every intervention carries, whichever partner's model holds them.

    Housing actions and police powers differ in what they target, not in their terms, so the
    rule that checks a term and the arithmetic that resolves it are written against this.
    """

    @property
    def action_ref(self) -> str: ...

    @property
    def issued_at(self) -> datetime: ...

    @property
    def effective_from(self) -> date | None: ...

    @property
    def duration(self) -> Duration | None: ...

    @property
    def expires_on(self) -> date | None: ...

    @property
    def conditions(self) -> str | None: ...
