"""Housing message → canonical events. Pure apart from tokens and sealing (done by the context).

People and places go through ``services.normalise.subjects`` so a housing person gives the same
tokens as the same person described by police or health. Partner references (tenancy, case,
report and action refs) become tokens; narrative and conditions are sealed; only dates, codes,
flags and tokens stay in clear. Reference tokens are prefixed with the partner and what they
name (``HOUSING:REPORT:<ref>``) because agencies number independently and their references can
collide; tenancy refs are tokenised bare, like housing person refs, so every housing feed agrees.
"""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from contracts.events import AsbIncidentReported, InterventionIssued, TenancyEvent
from contracts.parts import PersonRef, PlaceRef
from contracts.protected import CorrelationKey
from contracts.vocab import (
    AsbCategory,
    Partner,
    PersonRole,
    RiskLevel,
    TokenKind,
    VictimType,
)
from services.normalise.context import MappingContext
from services.normalise.port import DroppedFact, MappingResult
from services.normalise.subjects import Identity, Place, person_ref, place_ref
from services.partners.housing.codes import ACTIONS, TENANCY_EVENTS
from services.partners.housing.format import (
    AsbActionMessage,
    AsbCaseReportMessage,
    HousingPerson,
    Message,
    Property,
    TenancyMessage,
)

__all__ = ["LOCAL_ZONE", "TENANCY_ROLE", "map_message", "ref_token"]

#: Housing dates (tenancy start, effective dates) are local calendar dates.
LOCAL_ZONE = ZoneInfo("Europe/London")

#: ``PersonRole`` has no tenant or occupant role; witness is the role no trigger rule counts
#: on a tenancy event. A contract change (``tenant``/``occupant``) would replace this.
TENANCY_ROLE = PersonRole.TENANT


def ref_token(ctx: MappingContext, kind: TokenKind, partner: str, what: str, ref: str) -> str:
    """Token of a partner reference, namespaced by partner and what it names."""
    return ctx.token(kind, f"{partner}:{what}:{ref.strip()}".upper())


def _identity(person: HousingPerson, risk: RiskLevel | None = None) -> Identity:
    return Identity(
        given=person.given_name,
        family=person.family_name,
        birth_date=person.date_of_birth,
        housing_person_ref=person.person_ref,
        organisation=person.organisation_name,
        phone=person.phone,
        email=person.email,
        victim_type=VictimType(person.party_type),
        risk=risk,
    )


def _place(prop: Property) -> Place:
    return Place(uprn=prop.uprn, lines=tuple(prop.address_lines), postcode=prop.postcode)


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=LOCAL_ZONE)


def _keys(
    people: list[PersonRef], place: PlaceRef | None, *refs: CorrelationKey
) -> tuple[CorrelationKey, ...]:
    """Every join key of an event, de-duplicated, strongest (people) first."""
    found = [key for person in people for key in person.keys]
    if place is not None and place.uprn:
        found.append(CorrelationKey(kind=TokenKind.UPRN, token=place.uprn))
    if place is not None and place.address:
        found.append(CorrelationKey(kind=TokenKind.ADDRESS, token=place.address))
    found.extend(refs)
    return tuple({key.token: key for key in found}.values())


def _tenancy(msg: TenancyMessage, ctx: MappingContext) -> MappingResult:
    event_id = ctx.event_id("tenancy")
    sealer = ctx.sealer(event_id)
    people = [
        person_ref(ctx, sealer, f"people[{i}]", TENANCY_ROLE, _identity(p))
        for i, p in enumerate(msg.people)
    ]
    prop = place_ref(ctx, sealer, "property", _place(msg.property))
    tenancy = ctx.key(TokenKind.TENANCY_REF, msg.tenancy_ref.strip().upper())
    data = TenancyEvent(
        tenancy_ref=tenancy.token,
        event=TENANCY_EVENTS[msg.tenancy_event],
        effective_on=msg.effective_date,
        people=tuple(people),
        property=prop,
        tenure_type=msg.tenure_type,
    )
    event = ctx.envelope(
        event_id=event_id,
        subject=people[0].subject,
        occurred_at=_local_midnight(msg.effective_date),
        data=data,
        correlation_keys=_keys(people, prop, tenancy),
    )
    return MappingResult(events=[event])


def _report(msg: AsbCaseReportMessage, ctx: MappingContext) -> MappingResult:
    event_id = ctx.event_id("incident")
    sealer = ctx.sealer(event_id)
    risk = RiskLevel(msg.victim_risk) if msg.victim_risk else None
    groups = (
        (PersonRole.VICTIM, msg.victims),
        (PersonRole.COMPLAINANT, msg.complainants),
        (PersonRole.ALLEGED_PERPETRATOR, msg.alleged_perpetrators),
        (PersonRole.WITNESS, msg.witnesses),
    )
    people: list[PersonRef] = []
    for role, persons in groups:
        for person in persons:
            own_risk = risk if role is PersonRole.VICTIM and not people else None
            path = f"people[{len(people)}]"
            people.append(person_ref(ctx, sealer, path, role, _identity(person, own_risk)))
    location = place_ref(ctx, sealer, "location", _place(msg.location))
    incident = ref_token(ctx, TokenKind.INCIDENT_REF, "housing", "report", msg.report_ref)
    refs = [
        CorrelationKey(kind=TokenKind.INCIDENT_REF, token=incident),
        CorrelationKey(
            kind=TokenKind.CASE_REF,
            token=ref_token(ctx, TokenKind.CASE_REF, "housing", "case", msg.case_ref),
        ),
    ]
    if msg.police_incident_ref:
        police = ref_token(
            ctx, TokenKind.INCIDENT_REF, "police", "incident", msg.police_incident_ref
        )
        refs.append(CorrelationKey(kind=TokenKind.INCIDENT_REF, token=police))
    classification = f"ASB-{msg.category.upper()}" + (f"/{msg.asb_type}" if msg.asb_type else "")
    data = AsbIncidentReported(
        incident_ref=incident,
        reporting_agency=Partner.HOUSING,
        category=AsbCategory(msg.category),
        classification=classification,
        hate_motivated=msg.hate_incident,
        occurred_at=msg.occurred_from,
        occurred_until=msg.occurred_to,
        reported_at=msg.reported_at,
        people=tuple(people),
        location=location,
        victim_risk=risk,
        narrative=sealer.seal_if("narrative", "narrative", msg.narrative),
    )
    # The first victim, else the first complainant: the format requires one of them.
    event = ctx.envelope(
        event_id=event_id,
        subject=people[0].subject,
        occurred_at=msg.occurred_from,
        data=data,
        correlation_keys=_keys(people, location, *refs),
    )
    dropped = []
    if msg.hate_strand is not None:
        dropped.append(
            DroppedFact(
                "hate_strand",
                "hate strand of the incident",
                "the case review needs only whether it was hate-motivated",
            )
        )
    return MappingResult(events=[event], dropped=dropped)


def _actions(msg: AsbActionMessage, ctx: MappingContext) -> MappingResult:
    result = MappingResult()
    case = ref_token(ctx, TokenKind.CASE_REF, "housing", "case", msg.case_ref)
    for i, action in enumerate(msg.actions):
        event_id = ctx.event_id(f"action:{i}")
        sealer = ctx.sealer(event_id)
        subject = person_ref(
            ctx, sealer, "subject", PersonRole.ALLEGED_PERPETRATOR, _identity(action.person)
        )
        effective = action.effective_from or action.issued_at.date()
        expires = action.expires_on
        if action.duration is not None:
            start = datetime.combine(effective, action.issued_at.timetz())
            expires = action.duration.end(start).date()
        ref = ref_token(ctx, TokenKind.INTERVENTION_REF, "housing", "action", action.action_ref)
        data = InterventionIssued(
            intervention_ref=ref,
            intervention=ACTIONS[action.action_type],
            issuing_agency=Partner.HOUSING,
            issued_on=action.issued_at.date(),
            effective_from=effective,
            expires_on=expires,
            duration_days=(expires - effective).days if expires else None,
            subject=subject,
            related_incidents=tuple(
                ref_token(ctx, TokenKind.INCIDENT_REF, "housing", "report", r)
                for r in action.related_report_refs
            ),
            conditions=sealer.seal_if("conditions", "intervention_conditions", action.conditions),
        )
        keys = _keys([subject], None, CorrelationKey(kind=TokenKind.CASE_REF, token=case))
        result.events.append(
            ctx.envelope(
                event_id=event_id,
                subject=subject.subject,
                occurred_at=action.issued_at,
                data=data,
                correlation_keys=keys,
            )
        )
    return result


def map_message(msg: Message, ctx: MappingContext) -> MappingResult:
    """The canonical events (and dropped facts) of one validated housing message."""
    if isinstance(msg, TenancyMessage):
        return _tenancy(msg, ctx)
    if isinstance(msg, AsbCaseReportMessage):
        return _report(msg, ctx)
    return _actions(msg, ctx)
