"""A local area's case-review policy, kept as configuration and refused early when it is wrong.

The Act leaves the threshold to each area within limits set by Home Office guidance, so the rules
read every number from an :class:`AreaPolicy` instead of hard-coding it. A policy that breaks the
guidance (a threshold above three, a window shorter than six months) is a wiring mistake: it is
refused when the correlator starts, with the offending field named, never on the first event.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, field_validator

__all__ = [
    "DEFAULT_POLICY_FILE",
    "AreaPolicy",
    "DiscretionaryRules",
    "LinkedLocation",
    "PolicyError",
    "SameIncident",
    "load_policy",
    "parse_policy",
]

DEFAULT_POLICY_FILE = (
    Path(__file__).resolve().parents[3] / "deploy" / "config" / "policies" / "default.yaml"
)

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class PolicyError(ValueError):
    """A policy file that cannot be used; ``field`` is the dotted path of the first bad field."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


class LinkedLocation(StrEnum):
    """What makes two incident locations "linked" for the locality review suggestion."""

    SAME_UPRN = "same_uprn"
    SAME_ADDRESS_OR_UPRN = "same_address_or_uprn"
    SAME_POSTCODE = "same_postcode"


class SameIncident(BaseModel):
    """When two reports from different agencies are one incident (see ``incidents.py``)."""

    model_config = _FROZEN

    tolerance_hours: float = Field(default=6, gt=0, le=72)


class DiscretionaryRules(BaseModel):
    """Which review suggestions (a human decides) the area wants raised."""

    model_config = _FROZEN

    hate: bool = True
    locality: bool = True
    vulnerability: bool = True
    high_risk: bool = True


class AreaPolicy(BaseModel):
    """Every number the trigger rules use, for one local area."""

    model_config = _FROZEN

    area_id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    area_name: str = Field(min_length=1, max_length=120)
    threshold: int = 3
    qualifying_period: Literal["calendar_month"] | StrictInt = "calendar_month"
    window_months: int = 6
    allowed_lateness_days: int = Field(default=92, ge=0, le=3660)
    same_incident: SameIncident = SameIncident()
    locality_threshold: int = Field(default=5, ge=2, le=100)
    linked_location: LinkedLocation = LinkedLocation.SAME_ADDRESS_OR_UPRN
    discretionary: DiscretionaryRules = DiscretionaryRules()
    second_report_prompt: bool = True
    response_deadline_working_days: int = Field(default=10, ge=1, le=60)
    deadline_calendar: Literal["england_and_wales"] = "england_and_wales"
    cpw_assumed_active_months: int = Field(default=12, ge=1, le=60)
    cpn_prior_cpw_grace_days: int = Field(default=14, ge=0, le=90)

    @field_validator("threshold")
    @classmethod
    def _threshold_within_guidance(cls, value: int) -> int:
        if value > 3:
            raise ValueError(
                f"guidance says no higher than 3 qualifying complaints in six months (got {value})"
            )
        if value < 1:
            raise ValueError(f"at least one complaint is needed to meet a threshold (got {value})")
        return value

    @field_validator("qualifying_period")
    @classmethod
    def _period_positive(cls, value: str | int) -> str | int:
        if isinstance(value, int) and not 1 <= value <= 366:
            raise ValueError(f"a qualifying period in days must be 1 to 366 (got {value})")
        return value

    @field_validator("window_months")
    @classmethod
    def _window_within_guidance(cls, value: int) -> int:
        if value < 6:
            raise ValueError(
                f"guidance measures the threshold over six months; a shorter window is stricter "
                f"than guidance allows (got {value})"
            )
        if value > 24:
            raise ValueError(
                f"a window longer than 24 months is not a case-review window ({value})"
            )
        return value


def _describe(error: ValidationError) -> PolicyError:
    """One line per problem, each starting with the field's dotted path."""
    lines: list[str] = []
    first = ""
    for problem in error.errors():
        # Union members add their type name to the location; the reader wants the field only.
        path = ".".join(
            str(part) for part in problem["loc"] if part not in ("int", "literal['calendar_month']")
        )
        first = first or path
        message = str(problem["msg"]).removeprefix("Value error, ")
        lines.append(f"{path}: {message}")
    return PolicyError("; ".join(dict.fromkeys(lines)), field=first)


def parse_policy(data: object) -> AreaPolicy:
    """Validate already-parsed policy data, raising :class:`PolicyError` on any problem."""
    if not isinstance(data, dict):
        raise PolicyError("policy: the file must hold a mapping of settings", field="policy")
    try:
        return AreaPolicy.model_validate(data)
    except ValidationError as error:
        raise _describe(error) from None


def load_policy(path: Path | str = DEFAULT_POLICY_FILE) -> AreaPolicy:
    """Read one area's policy from YAML; any problem is a :class:`PolicyError` naming the field."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise PolicyError(f"policy: cannot read {path}: {error}", field="policy") from None
    return parse_policy(data)
