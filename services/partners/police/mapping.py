"""Police message → canonical events: one incident, then one event per action.

People and places go through ``services.normalise.subjects`` so that a police nominal gives the
same name/date-of-birth tokens as the same person described by housing or health. Objects are
dropped at the edge (the case review does not need vehicles or property), as are the hate strand
and the risk assessment's free text, which no canonical field carries yet; each is reported as a
:class:`DroppedFact`. Reference tokens are prefixed with the partner and what they name
(``POLICE:INCIDENT:<ref>``) by :mod:`services.partners.common.refs`, which the housing mapping
uses too, so a housing report that quotes a police incident reference shares that key.
"""

from __future__ import annotations

from contracts.envelope import CanonicalEvent
from contracts.events import AsbIncidentReported
from contracts.parts import PersonRef, PlaceRef
from contracts.protected import CorrelationKey
from contracts.vocab import (
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
from services.partners.police.codes import ACTIONS, CATEGORIES, ROLES
from services.partners.police.format import (
    PoleAction,
    PoleEvent,
    PolePerson,
    PoliceMessage,
)

__all__ = ["map_message", "ref_token"]

_HATE_STRAND = DroppedFact(
    "hate_strand",
    "hate strand of the incident",
    "special-category detail; the case review needs only whether it was hate-motivated",
)
_OBJECT_WHY = "objects (vehicles, property) are not needed for the ASB case review"


def _identity(person: PolePerson) -> Identity:
    risk = RiskLevel(person.risk_assessment.level) if person.risk_assessment else None
    return identity(person, person.person_type, risk, police_person_id=person.police_person_id)


def _place_key(where: PlaceRef) -> str:
    key = where.key
    if key is None:  # pragma: no cover - the format requires a UPRN or address lines
        raise ValueError("a location without a UPRN or address cannot be a subject")
    return key


def _incident(msg: PoliceMessage, event: PoleEvent, ctx: MappingContext) -> MappingResult:
    event_id = ctx.event_id("incident")
    sealer = ctx.sealer(event_id)
    involved = [p for p in msg.persons if p.role is not None]
    people = [
        person_ref(ctx, sealer, f"people[{i}]", ROLES[p.role], _identity(p))
        for i, p in enumerate(involved)
        if p.role is not None
    ]
    where = next(loc for loc in msg.locations if loc.id == event.location_id)
    location = place_ref(ctx, sealer, "location", place(where))
    victims = [p for p in people if p.role is PersonRole.VICTIM]
    complainants = [p for p in people if p.role is PersonRole.COMPLAINANT]
    first = (victims or complainants)[0].subject if victims or complainants else None
    incident = ref_token(ctx, TokenKind.INCIDENT_REF, "police", "incident", event.incident_ref)
    data = AsbIncidentReported(
        incident_ref=incident,
        reporting_agency=Partner.POLICE,
        category=CATEGORIES[event.classification],
        classification=event.classification,
        hate_motivated=event.hate_flag,
        occurred_at=event.occurred_from,
        occurred_until=event.occurred_to,
        reported_at=event.reported_at,
        people=tuple(people),
        location=location,
        victim_risk=victims[0].risk if victims else None,
        victim_risk_detail=sealer.seal_if(
            "victim_risk_detail", "risk_detail", _risk_detail(involved)
        ),
        narrative=sealer.seal_if("narrative", "narrative", event.narrative),
    )
    keys = correlation_keys(
        people, location, CorrelationKey(kind=TokenKind.INCIDENT_REF, token=incident)
    )
    envelope = ctx.envelope(
        event_id=event_id,
        subject=first or _place_key(location),
        occurred_at=event.occurred_from,
        data=data,
        correlation_keys=keys,
    )
    dropped = [_HATE_STRAND] if event.hate_strand is not None else []
    return MappingResult(events=[envelope], dropped=dropped)


def _risk_detail(involved: list[PolePerson]) -> str | None:
    """The first victim's risk reasoning (sealed as risk_detail: police and lead agency only)."""
    for person in involved:
        if person.role == "victim" and person.risk_assessment and person.risk_assessment.detail:
            return person.risk_assessment.detail
    return None


def _action(msg: PoliceMessage, action: PoleAction, ctx: MappingContext) -> CanonicalEvent:
    event_id = ctx.event_id(f"action:{action.id}")
    sealer = ctx.sealer(event_id)
    subject: PersonRef | None = None
    premises: PlaceRef | None = None
    if action.person_id is not None:
        person = next(p for p in msg.persons if p.id == action.person_id)
        subject = person_ref(
            ctx, sealer, "subject", PersonRole.ALLEGED_PERPETRATOR, _identity(person)
        )
        subject_token = subject.subject
    else:
        where = next(loc for loc in msg.locations if loc.id == action.location_id)
        premises = place_ref(ctx, sealer, "premises", place(where))
        subject_token = _place_key(premises)
    refs = list(action.related_incident_refs)
    if msg.event is not None:
        refs.insert(0, msg.event.incident_ref)
    related = tuple(
        dict.fromkeys(ref_token(ctx, TokenKind.INCIDENT_REF, "police", "incident", r) for r in refs)
    )
    data = intervention(
        ctx,
        sealer,
        action,
        Partner.POLICE,
        ACTIONS[action.action_type],
        subject=subject,
        premises=premises,
        related=related,
    )
    keys = correlation_keys([subject] if subject else [], premises)
    return ctx.envelope(
        event_id=event_id,
        subject=subject_token,
        occurred_at=action.issued_at,
        data=data,
        correlation_keys=keys,
    )


def map_message(msg: PoliceMessage, ctx: MappingContext) -> MappingResult:
    """The canonical events (and dropped facts) of one validated police message."""
    result = _incident(msg, msg.event, ctx) if msg.event is not None else MappingResult()
    for action in msg.actions:
        result.events.append(_action(msg, action, ctx))
    for obj in msg.objects:
        what = f"POLE object ({obj.object_type})"
        result.dropped.append(DroppedFact(f"object:{obj.id}", what, _OBJECT_WHY))
    return result
