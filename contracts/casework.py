"""Case-review casework: the application, the threshold decision, the review and OSARA work.

Forces and councils run a case review as OSARA (Objective, Scanning, Analysis, Response,
Assessment). Scanning and analysis are drawn from the canonical events; what people decide
(the objective, the responses agreed, what worked) and the statutory milestones (application
received, threshold decision, review held) are recorded here, on ``asbx.casework.v1`` keyed by
case id, so the case review meeting and the yearly figures the Act requires (s.104(11))
draw on one record.

Free text written by officers may name or describe people, so it is always a sealed field for
the case's audiences; counts, dates, outcomes and owners stay in clear for the figures.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contracts.protected import SealedField, Token
from contracts.vocab import Audience, LawfulBasis, Purpose, VictimType

__all__ = [
    "CASEWORK_TYPE_PREFIX",
    "ApplicationReceived",
    "ApplicationRoute",
    "CaseworkData",
    "CaseworkEvent",
    "ObjectiveSet",
    "ResponseAgreed",
    "ResponseAssessed",
    "ResponseOutcome",
    "ReviewHeld",
    "ThresholdDecided",
]

CASEWORK_TYPE_PREFIX = "uk.asbx.casework."
_FROZEN = ConfigDict(frozen=True, extra="forbid")
_CASE_ID = r"^case-[0-9a-f-]{36}$"


class ApplicationRoute(StrEnum):
    """How a case review was asked for."""

    VICTIM = "victim"
    ON_BEHALF_OF_VICTIM = "on_behalf_of_victim"
    ASBX_ALERT = "asbx_alert"


class ResponseOutcome(StrEnum):
    """What an agreed response achieved, as the assessment records it."""

    WORKED = "worked"
    PARTLY_WORKED = "partly_worked"
    DID_NOT_WORK = "did_not_work"
    NOT_DONE = "not_done"


class ApplicationReceived(BaseModel):
    """An application for an ASB case review was received (counts in the yearly figures)."""

    model_config = _FROZEN
    kind: Literal["application_received"] = "application_received"

    received_on: date
    received_by: Audience = Field(description="The agency that took the application.")
    route: ApplicationRoute
    applicant_type: VictimType = VictimType.INDIVIDUAL
    alert_id: str | None = Field(default=None, description="The asbx alert it was opened from.")


class ThresholdDecided(BaseModel):
    """Whether the threshold for a case review was met; the reason is sealed free text."""

    model_config = _FROZEN
    kind: Literal["threshold_decided"] = "threshold_decided"

    decided_on: date
    met: bool
    reason: SealedField | None = None


class ReviewHeld(BaseModel):
    """The case review meeting took place; how many recommendations it made."""

    model_config = _FROZEN
    kind: Literal["review_held"] = "review_held"

    held_on: date
    recommendation_count: int = Field(ge=0, le=100)
    recommendations: SealedField | None = None


class ObjectiveSet(BaseModel):
    """OSARA objective: what the partners are trying to achieve for this victim."""

    model_config = _FROZEN
    kind: Literal["objective_set"] = "objective_set"

    set_on: date
    objective: SealedField


class ResponseAgreed(BaseModel):
    """OSARA response: one action, its owner and its deadline in working days."""

    model_config = _FROZEN
    kind: Literal["response_agreed"] = "response_agreed"

    response_id: str = Field(pattern=r"^[0-9a-f-]{36}$")
    owner: Audience = Field(description="The partner that owns the action.")
    agreed_on: date
    due_working_days: int = Field(ge=1, le=260)
    due_on: date = Field(description="agreed_on plus due_working_days (England and Wales).")
    description: SealedField


class ResponseAssessed(BaseModel):
    """OSARA assessment: what an agreed response achieved."""

    model_config = _FROZEN
    kind: Literal["response_assessed"] = "response_assessed"

    response_id: str = Field(pattern=r"^[0-9a-f-]{36}$")
    assessed_on: date
    outcome: ResponseOutcome
    notes: SealedField | None = None


CaseworkData = Annotated[
    ApplicationReceived
    | ThresholdDecided
    | ReviewHeld
    | ObjectiveSet
    | ResponseAgreed
    | ResponseAssessed,
    Field(discriminator="kind"),
]


class CaseworkEvent(BaseModel):
    """One casework fact, with CloudEvents attributes; the record key is ``case_id``."""

    model_config = _FROZEN

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(pattern=r"^[0-9a-f-]{36}$")
    source: str = Field(description="e.g. /asbx/casework/<area>")
    type: str = Field(pattern=r"^uk\.asbx\.casework\.[a-z_]+\.v[0-9]+$")
    subject: str = Field(pattern=_CASE_ID, description="The case id (also the record key).")
    time: AwareDatetime = Field(description="When it was recorded.")
    datacontenttype: Literal["application/json"] = "application/json"

    case_id: str = Field(pattern=_CASE_ID)
    case_subject: Token = Field(description="Token of the victim (the alert subject).")
    area: str
    recorded_by: str = Field(max_length=120, description="User who recorded it.")
    recorded_for: Audience = Field(description="The audience the user acts for.")
    audiences: tuple[Audience, ...] = Field(
        min_length=1, description="Who may open the sealed free text (the case's audiences)."
    )
    purpose: Purpose = Purpose.ASB_CASE_REVIEW
    lawful_basis: LawfulBasis = LawfulBasis.UK_GDPR_6_1_E
    data: CaseworkData
