"""The facts the trigger rules reason about, translated from canonical events.

Facts are plain frozen dataclasses holding only tokens, dates, categories, agencies, roles and
event ids: no sealed field, name or narrative reaches the rules, so nothing the rules keep in
state (and write to the changelog) can disclose more than the canonical topics already do.

Every fact carries ``record_key`` (partner, kind and the partner's own reference) and
``recorded_at``: a later fact with the same record key is a *correction* that replaces the earlier
one (see ``views.current_facts``). Flags raised and ended, and tenancy events, are separate
records, because they add to each other instead of replacing each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field

from contracts.envelope import CanonicalEvent
from contracts.events import (
    AsbIncidentReported,
    InterventionIssued,
    SupportReferralMade,
    TenancyEvent,
    VulnerabilityFlagEnded,
    VulnerabilityFlagRaised,
)
from contracts.parts import PersonRef
from contracts.vocab import AsbCategory, InterventionType, Partner, PersonRole, RiskLevel
from services.correlator.domain.people import PersonFacet, PlaceFacet, person_facet, place_facet

__all__ = [
    "Fact",
    "FactUnion",
    "IncidentReport",
    "InterventionFact",
    "PersonFacet",
    "PlaceFacet",
    "ReferralFact",
    "TenancyFact",
    "VulnerabilityFact",
    "fact_from_event",
]


@dataclass(frozen=True, kw_only=True)
class _Base:
    event_id: str
    partner: Partner
    record_key: str
    recorded_at: datetime

    @property
    def version(self) -> tuple[datetime, str]:
        """Which of two facts with one record key is the correction: the later recorded."""
        return (self.recorded_at, self.event_id)


@dataclass(frozen=True, kw_only=True)
class IncidentReport(_Base):
    """One complaint of ASB made to one agency, with everyone it names."""

    incident_ref: str
    category: AsbCategory
    hate_motivated: bool
    occurred_at: datetime
    reported_at: datetime
    people: tuple[PersonFacet, ...]
    location: PlaceFacet | None
    victim_risk: RiskLevel | None
    kind: Literal["incident"] = "incident"

    def _role(self, *roles: PersonRole) -> tuple[PersonFacet, ...]:
        for role in roles:
            found = tuple(p for p in self.people if p.role is role)
            if found:
                return found
        return ()

    @property
    def victims(self) -> tuple[PersonFacet, ...]:
        """Victims; when a report names none, its complainants (they complain about behaviour
        affecting themselves, as most callers do)."""
        return self._role(PersonRole.VICTIM, PersonRole.COMPLAINANT)

    @property
    def complainants(self) -> tuple[PersonFacet, ...]:
        """Complainants; when a report names none, its victims (the victim made the report)."""
        return self._role(PersonRole.COMPLAINANT, PersonRole.VICTIM)

    @property
    def perpetrators(self) -> tuple[PersonFacet, ...]:
        """Alleged perpetrators."""
        return self._role(PersonRole.ALLEGED_PERPETRATOR)

    @property
    def location_key(self) -> str | None:
        """UPRN token, else address token (``PlaceRef.key``)."""
        return self.location.key if self.location else None

    @property
    def is_high_risk(self) -> bool:
        """The victim was assessed as high risk in this report."""
        return self.victim_risk is RiskLevel.HIGH or any(
            v.risk is RiskLevel.HIGH for v in self.victims
        )


@dataclass(frozen=True, kw_only=True)
class InterventionFact(_Base):
    """A step on the escalation ladder (warning letter ... closure order)."""

    intervention: InterventionType
    issued_on: date
    effective_from: date
    expires_on: date | None
    duration_days: int | None
    subject: PersonFacet | None
    premises: PlaceFacet | None
    related_incidents: tuple[str, ...]
    kind: Literal["intervention"] = "intervention"

    @property
    def people(self) -> tuple[PersonFacet, ...]:
        """The person bound, if any."""
        return (self.subject,) if self.subject else ()


@dataclass(frozen=True, kw_only=True)
class VulnerabilityFact(_Base):
    """A vulnerability flag raised (``raised=True``, from ``on``) or ended (on ``on``)."""

    flag_ref: str
    person: PersonFacet
    raised: bool
    on: date
    kind: Literal["vulnerability"] = "vulnerability"

    @property
    def people(self) -> tuple[PersonFacet, ...]:
        """The flagged person."""
        return (self.person,)


@dataclass(frozen=True, kw_only=True)
class TenancyFact(_Base):
    """A tenancy change; tells linkage where people live."""

    event_type: str
    effective_on: date
    people: tuple[PersonFacet, ...]
    property: PlaceFacet
    kind: Literal["tenancy"] = "tenancy"


@dataclass(frozen=True, kw_only=True)
class ReferralFact(_Base):
    """A referral to a support service (the service itself stays sealed upstream)."""

    person: PersonFacet
    referred_on: date
    status: str
    kind: Literal["referral"] = "referral"

    @property
    def people(self) -> tuple[PersonFacet, ...]:
        """The referred person."""
        return (self.person,)


Fact = IncidentReport | InterventionFact | VulnerabilityFact | TenancyFact | ReferralFact
#: The same union, tagged for (de)serialisation of state.
FactUnion = Annotated[Fact, Field(discriminator="kind")]


def fact_from_event(event: CanonicalEvent) -> Fact | None:
    """The fact an event states, or ``None`` for events the rules do not use (alerts)."""
    data = event.data
    partner, event_id, recorded_at = event.partner, event.id, event.recorded_at

    def key(kind: str, ref: str) -> str:
        return f"{partner.value}:{kind}:{ref}"

    def people(found: tuple[PersonRef, ...], record_key: str) -> tuple[PersonFacet, ...]:
        return tuple(person_facet(p, partner, record_key, i) for i, p in enumerate(found))

    match data:
        case AsbIncidentReported():
            rk = key("incident", data.incident_ref)
            return IncidentReport(
                event_id=event_id,
                partner=partner,
                record_key=rk,
                recorded_at=recorded_at,
                incident_ref=data.incident_ref,
                category=data.category,
                hate_motivated=data.hate_motivated,
                occurred_at=data.occurred_at,
                reported_at=data.reported_at,
                people=people(data.people, rk),
                location=place_facet(data.location),
                victim_risk=data.victim_risk,
            )
        case InterventionIssued():
            rk = key("intervention", data.intervention_ref)
            return InterventionFact(
                event_id=event_id,
                partner=partner,
                record_key=rk,
                recorded_at=recorded_at,
                intervention=data.intervention,
                issued_on=data.issued_on,
                effective_from=data.effective_from,
                expires_on=data.expires_on,
                duration_days=data.duration_days,
                subject=person_facet(data.subject, partner, rk, 0) if data.subject else None,
                premises=place_facet(data.premises),
                related_incidents=data.related_incidents,
            )
        case VulnerabilityFlagRaised() | VulnerabilityFlagEnded():
            raised = isinstance(data, VulnerabilityFlagRaised)
            rk = key("flag_raised" if raised else "flag_ended", data.flag_ref)
            return VulnerabilityFact(
                event_id=event_id,
                partner=partner,
                record_key=rk,
                recorded_at=recorded_at,
                flag_ref=data.flag_ref,
                person=person_facet(data.person, partner, rk, 0),
                raised=raised,
                on=data.active_from if isinstance(data, VulnerabilityFlagRaised) else data.ended_on,
            )
        case TenancyEvent():
            # Each tenancy event adds to the tenancy's history, so each is its own record.
            rk = key("tenancy_event", event_id)
            return TenancyFact(
                event_id=event_id,
                partner=partner,
                record_key=rk,
                recorded_at=recorded_at,
                event_type=data.event.value,
                effective_on=data.effective_on,
                people=people(data.people, rk),
                property=place_facet(data.property) or PlaceFacet(),
            )
        case SupportReferralMade():
            rk = key("referral", data.referral_ref)
            return ReferralFact(
                event_id=event_id,
                partner=partner,
                record_key=rk,
                recorded_at=recorded_at,
                person=person_facet(data.person, partner, rk, 0),
                referred_on=data.referred_on,
                status=data.status,
            )
    return None
