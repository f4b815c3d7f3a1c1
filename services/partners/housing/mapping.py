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

from contracts.events import AsbIncidentReported, TenancyEvent
from contracts.parts import PersonRef
from contracts.protected import CorrelationKey
from contracts.vocab import (
    AsbCategory,
    Partner,
    PersonRole,
    RiskLevel,
    TokenKind,
)
from services.normalise.context import MappingContext
from services.normalise.port import DroppedFact, MappingResult
from services.normalise.subjects import Identity, person_ref, place_ref
from services.partners.common.interventions import intervention
from services.partners.common.refs import correlation_keys, ref_token
from services.partners.common.subjects import identity, place
from services.partners.housing.codes import ACTIONS, TENANCY_EVENTS
from services.partners.housing.format import (
    AsbActionMessage,
    AsbCaseReportMessage,
    HousingPerson,
    Message,
    TenancyMessage,
)

__all__ = ["LOCAL_ZONE", "TENANCY_ROLE", "map_message", "ref_token"]

#: Housing dates (tenancy start, effective dates) are local calendar dates.
LOCAL_ZONE = ZoneInfo("Europe/London")

#: ``PersonRole`` has no tenant or occupant role; witness is the role no trigger rule counts
#: on a tenancy event. A contract change (``tenant``/``occupant``) would replace this.
TENANCY_ROLE = PersonRole.TENANT


def _identity(person: HousingPerson, risk: RiskLevel | None = None) -> Identity:
    return identity(person, person.party_type, risk, housing_person_ref=person.person_ref)


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=LOCAL_ZONE)


def _tenancy(msg: TenancyMessage, ctx: MappingContext) -> MappingResult:
    event_id = ctx.event_id("tenancy")
    sealer = ctx.sealer(event_id)
    people = [
        person_ref(ctx, sealer, f"people[{i}]", TENANCY_ROLE, _identity(p))
        for i, p in enumerate(msg.people)
    ]
    prop = place_ref(ctx, sealer, "property", place(msg.property))
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
        correlation_keys=correlation_keys(people, prop, tenancy),
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
    location = place_ref(ctx, sealer, "location", place(msg.location))
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
        correlation_keys=correlation_keys(people, location, *refs),
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
        related = tuple(
            ref_token(ctx, TokenKind.INCIDENT_REF, "housing", "report", r)
            for r in action.related_report_refs
        )
        kind = ACTIONS[action.action_type]
        data = intervention(
            ctx, sealer, action, Partner.HOUSING, kind, subject=subject, related=related
        )
        keys = correlation_keys(
            [subject], None, CorrelationKey(kind=TokenKind.CASE_REF, token=case)
        )
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
