"""The canonical events. Each is the ``data`` of a :class:`contracts.envelope.CanonicalEvent`.

Plain facts the correlator needs (dates, categories, flags, roles) are in clear; everything that
identifies or describes a person is a token or a sealed field.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from contracts.parts import PersonRef, PlaceRef
from contracts.protected import SealedField, Token
from contracts.vocab import (
    AlertRule,
    AsbCategory,
    Audience,
    InterventionType,
    Partner,
    RiskLevel,
    TenancyEventType,
)

__all__ = [
    "AsbIncidentReported",
    "ContributingIncident",
    "EventData",
    "InterventionIssued",
    "SupportReferralMade",
    "TenancyEvent",
    "TriggerAlertRaised",
    "VulnerabilityFlagEnded",
    "VulnerabilityFlagRaised",
]

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class AsbIncidentReported(BaseModel):
    """A complaint of anti-social behaviour made to one agency."""

    model_config = _FROZEN
    kind: Literal["asb_incident_reported"] = "asb_incident_reported"

    incident_ref: Token = Field(
        description="Token of the partner's own incident or case reference."
    )
    reporting_agency: Partner
    category: AsbCategory
    classification: str = Field(
        max_length=80, description="The partner's coded classification, e.g. POLE ASB-NUISANCE."
    )
    hate_motivated: bool = False
    occurred_at: AwareDatetime = Field(description="When the behaviour happened (or began).")
    occurred_until: AwareDatetime | None = None
    reported_at: AwareDatetime = Field(description="When the complaint was made to the agency.")
    people: tuple[PersonRef, ...] = Field(min_length=1)
    location: PlaceRef | None = None
    victim_risk: RiskLevel | None = None
    victim_risk_detail: SealedField | None = Field(
        default=None, description="The risk assessment's reasoning (data class risk_detail)."
    )
    narrative: SealedField | None = None

    @model_validator(mode="after")
    def _reported_after_occurred(self) -> AsbIncidentReported:
        if self.reported_at < self.occurred_at:
            raise ValueError("reported_at is before occurred_at")
        return self


class InterventionIssued(BaseModel):
    """A step on the escalation ladder taken against a person or a premises."""

    model_config = _FROZEN
    kind: Literal["intervention_issued"] = "intervention_issued"

    intervention_ref: Token
    intervention: InterventionType
    issuing_agency: Partner
    issued_on: date
    effective_from: date
    expires_on: date | None = None
    duration_days: int | None = Field(default=None, ge=0, le=3660)
    subject: PersonRef | None = Field(default=None, description="Person it binds (if personal).")
    premises: PlaceRef | None = Field(default=None, description="Premises (closure powers).")
    related_incidents: tuple[Token, ...] = ()
    conditions: SealedField | None = None

    @model_validator(mode="after")
    def _has_target(self) -> InterventionIssued:
        if self.subject is None and self.premises is None:
            raise ValueError("an intervention binds a person or premises")
        if self.expires_on is not None and self.expires_on < self.effective_from:
            raise ValueError("expires_on is before effective_from")
        return self


class TenancyEvent(BaseModel):
    """A change to a tenancy held by a housing partner."""

    model_config = _FROZEN
    kind: Literal["tenancy_event"] = "tenancy_event"

    tenancy_ref: Token
    event: TenancyEventType
    effective_on: date
    people: tuple[PersonRef, ...] = Field(min_length=1)
    property: PlaceRef
    tenure_type: str | None = Field(default=None, max_length=60)


class VulnerabilityFlagRaised(BaseModel):
    """A safeguarding-relevant vulnerability is active for a person.

    The category (e.g. learning disability) is health detail, so it is sealed for the audiences
    the agreement names; the correlator sees only that a flag is active.
    """

    model_config = _FROZEN
    kind: Literal["vulnerability_flag_raised"] = "vulnerability_flag_raised"

    flag_ref: Token
    person: PersonRef
    raised_by: Partner
    active_from: date
    safeguarding_concern: bool = False
    detail: SealedField | None = None


class VulnerabilityFlagEnded(BaseModel):
    """A previously raised vulnerability flag is no longer active."""

    model_config = _FROZEN
    kind: Literal["vulnerability_flag_ended"] = "vulnerability_flag_ended"

    flag_ref: Token
    person: PersonRef
    raised_by: Partner
    ended_on: date


class SupportReferralMade(BaseModel):
    """A person was referred to a support service (the service itself is sealed)."""

    model_config = _FROZEN
    kind: Literal["support_referral_made"] = "support_referral_made"

    referral_ref: Token
    person: PersonRef
    referring_agency: Partner
    referred_on: date
    status: Literal["draft", "active", "on-hold", "revoked", "completed", "entered-in-error"]
    service: SealedField | None = None


class ContributingIncident(BaseModel):
    """One incident counted by an alert; reported to one or more agencies, counted once."""

    model_config = _FROZEN

    incident_key: str = Field(description="Stable id of the de-duplicated incident.")
    event_ids: tuple[str, ...] = Field(min_length=1)
    reporting_agencies: tuple[Partner, ...] = Field(min_length=1)
    occurred_at: AwareDatetime
    first_reported_at: AwareDatetime
    category: AsbCategory
    hate_motivated: bool = False


class TriggerAlertRaised(BaseModel):
    """A case-review condition was met (or is suggested) for a subject."""

    model_config = _FROZEN
    kind: Literal["trigger_alert_raised"] = "trigger_alert_raised"

    alert_id: str = Field(description="Deterministic per condition and episode.")
    rule: AlertRule
    reason: str = Field(max_length=200)
    subject: Token
    area: str
    window_start: AwareDatetime
    window_end: AwareDatetime
    incidents: tuple[ContributingIncident, ...] = ()
    response_due_on: date | None = None
    audiences: tuple[Audience, ...] = Field(min_length=1)
    details: SealedField | None = None
    raised_at: datetime


EventData = Annotated[
    AsbIncidentReported
    | InterventionIssued
    | TenancyEvent
    | VulnerabilityFlagRaised
    | VulnerabilityFlagEnded
    | SupportReferralMade
    | TriggerAlertRaised,
    Field(discriminator="kind"),
]
