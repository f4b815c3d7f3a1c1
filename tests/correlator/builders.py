"""Small builders of real canonical events for correlator tests, and a stream-layer stand-in.

Tokens are fake but well-formed: ``kind:`` + unpadded base64url SHA-256 of a label, built the way
``services/normalise/subjects.py`` builds a person's keys (same kinds, same order, same name
variants), so blocking and linkage see what production would give them.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from contracts.envelope import CanonicalEvent, ce_type, dataschema_uri
from contracts.events import (
    AsbIncidentReported,
    EventData,
    InterventionIssued,
    TenancyEvent,
    VulnerabilityFlagEnded,
    VulnerabilityFlagRaised,
)
from contracts.parts import PersonRef, PlaceRef
from contracts.protected import CorrelationKey
from contracts.vocab import (
    AsbCategory,
    InterventionType,
    LawfulBasis,
    Partner,
    PersonRole,
    Purpose,
    RiskLevel,
    TenancyEventType,
    TokenKind,
    VictimType,
)
from services.correlator.domain.alerts import AlertDraft
from services.correlator.domain.facts import Fact, fact_from_event
from services.correlator.domain.policy import AreaPolicy
from services.correlator.domain.routing import person_keys, place_keys
from services.correlator.domain.state import PersonState, PlaceState, evaluate
from services.correlator.domain.views import fact_time
from services.identifiers.names import name_variants

LONDON = ZoneInfo("Europe/London")
POLICY = AreaPolicy(area_id="test", area_name="Test area")


def tok(kind: str, label: str) -> str:
    """A well-formed fake token for ``label``."""
    digest = hashlib.sha256(f"{kind}|{label}".encode()).digest()
    return f"{kind}:{base64.urlsafe_b64encode(digest).rstrip(b'=').decode()}"


def at(text: str) -> datetime:
    """An aware time; a time without an offset is read as England local time."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=LONDON)


@dataclass(frozen=True)
class Who:
    """A person as a partner knows them (clear values, tokenised by :func:`ref`)."""

    given: str | None = None
    family: str | None = None
    dob: date | None = None
    nhs: str | None = None
    police_id: str | None = None
    housing_ref: str | None = None
    organisation: str | None = None
    victim_type: VictimType = VictimType.INDIVIDUAL


def ref(who: Who, role: PersonRole, risk: RiskLevel | None = None) -> PersonRef:
    """A ``PersonRef`` with keys in the order ``person_ref`` produces them."""
    keys: list[tuple[TokenKind, str]] = []
    for kind, value in (
        (TokenKind.NHS_NUMBER, who.nhs),
        (TokenKind.POLICE_PERSON_ID, who.police_id),
        (TokenKind.HOUSING_PERSON_REF, who.housing_ref),
    ):
        if value:
            keys.append((kind, value))
    if who.family:
        keys += [
            (TokenKind.NAME_DOB, v) for v in name_variants(who.given or "", who.family, who.dob)
        ]
        keys.append((TokenKind.NAME, who.family.upper()))
    if who.dob:
        keys.append((TokenKind.DATE_OF_BIRTH, who.dob.isoformat()))
    if who.organisation:
        keys.append((TokenKind.ORGANISATION, who.organisation.upper()))
    corr = tuple(CorrelationKey(kind=k, token=tok(k.value, v)) for k, v in keys)
    return PersonRef(
        role=role,
        subject=corr[0].token,
        keys=corr,
        victim_type=who.victim_type,
        risk=risk,
        birth_year=who.dob.year if who.dob else None,
    )


def place(
    uprn: str | None = None, address: str | None = None, postcode: str | None = None
) -> PlaceRef:
    """A ``PlaceRef`` of tokens."""
    return PlaceRef(
        uprn=tok("uprn", uprn) if uprn else None,
        address=tok("address", address) if address else None,
        postcode=tok("postcode", postcode) if postcode else None,
    )


def envelope(
    data: EventData,
    partner: Partner,
    occurred: datetime,
    recorded: datetime,
    label: str,
    subject: str,
) -> CanonicalEvent:
    """Wrap event data in a canonical envelope with a deterministic id from ``label``."""
    event_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{partner.value}|{label}"))
    return CanonicalEvent(
        id=event_id,
        source=f"/partners/{partner.value}/test",
        type=ce_type(data.kind),
        subject=subject,
        time=occurred,
        dataschema=dataschema_uri(data.kind),
        partner=partner,
        source_system="test",
        partner_message_digest=hashlib.sha256(event_id.encode()).hexdigest(),
        occurred_at=occurred,
        recorded_at=recorded,
        purpose=Purpose.ASB_CASE_REVIEW,
        lawful_basis=LawfulBasis.UK_GDPR_6_1_E,
        agreement="test@1",
        data=data,
    )


def incident(
    ref_label: str,
    agency: Partner,
    occurred: str,
    reported: str,
    *,
    victims: Sequence[Who] = (),
    complainants: Sequence[Who] = (),
    perpetrators: Sequence[Who] = (),
    category: AsbCategory = AsbCategory.PERSONAL,
    hate: bool = False,
    where: PlaceRef | None = None,
    risk: RiskLevel | None = None,
    version: int = 1,
) -> CanonicalEvent:
    """An ``AsbIncidentReported`` event; ``version`` > 1 makes a later correction of it."""
    people = (
        [ref(v, PersonRole.VICTIM, risk) for v in victims]
        + [ref(c, PersonRole.COMPLAINANT) for c in complainants]
        + [ref(p, PersonRole.ALLEGED_PERPETRATOR) for p in perpetrators]
    )
    data = AsbIncidentReported(
        incident_ref=tok("incident_ref", ref_label),
        reporting_agency=agency,
        category=category,
        classification="TEST",
        hate_motivated=hate,
        occurred_at=at(occurred),
        reported_at=at(reported),
        people=tuple(people),
        location=where,
        victim_risk=risk,
    )
    recorded = at(reported).replace(microsecond=version)
    label = f"{ref_label}|v{version}"
    return envelope(data, agency, at(occurred), recorded, label, people[0].subject)


def intervention(
    ref_label: str,
    kind: InterventionType,
    who: Who,
    issued: date,
    *,
    agency: Partner = Partner.POLICE,
    related: Iterable[str] = (),
    expires: date | None = None,
) -> CanonicalEvent:
    """An ``InterventionIssued`` event binding ``who``."""
    data = InterventionIssued(
        intervention_ref=tok("case_ref", ref_label),
        intervention=kind,
        issuing_agency=agency,
        issued_on=issued,
        effective_from=issued,
        expires_on=expires,
        subject=ref(who, PersonRole.ALLEGED_PERPETRATOR),
        related_incidents=tuple(tok("incident_ref", r) for r in related),
    )
    moment = at(f"{issued.isoformat()}T12:00")
    return envelope(data, agency, moment, moment, ref_label, data.intervention_ref)


def flag(
    ref_label: str, who: Who, active_from: date, ended: date | None = None
) -> list[CanonicalEvent]:
    """A vulnerability flag raised by health, and optionally its end."""
    person = ref(who, PersonRole.VICTIM)
    raised = VulnerabilityFlagRaised(
        flag_ref=tok("flag_ref", ref_label),
        person=person,
        raised_by=Partner.HEALTH,
        active_from=active_from,
        safeguarding_concern=True,
    )
    moment = at(f"{active_from.isoformat()}T10:00")
    events = [envelope(raised, Partner.HEALTH, moment, moment, ref_label, person.subject)]
    if ended:
        data = VulnerabilityFlagEnded(
            flag_ref=raised.flag_ref, person=person, raised_by=Partner.HEALTH, ended_on=ended
        )
        end = at(f"{ended.isoformat()}T10:00")
        events.append(
            envelope(data, Partner.HEALTH, end, end, f"{ref_label}|ended", person.subject)
        )
    return events


def tenancy(ref_label: str, who: Who, where: PlaceRef, on: date) -> CanonicalEvent:
    """A housing tenancy start for ``who`` at ``where``."""
    data = TenancyEvent(
        tenancy_ref=tok("tenancy_ref", ref_label),
        event=TenancyEventType.TENANCY_STARTED,
        effective_on=on,
        people=(ref(who, PersonRole.VICTIM),),
        property=where,
    )
    moment = at(f"{on.isoformat()}T09:00")
    return envelope(data, Partner.HOUSING, moment, moment, ref_label, data.tenancy_ref)


def facts_of(events: Iterable[CanonicalEvent]) -> list[Fact]:
    """Translate events, dropping those the rules do not use."""
    return [f for e in events if (f := fact_from_event(e)) is not None]


@dataclass
class Stream:
    """What the stream layer does, in memory: route, apply, evaluate, remember what was raised.

    ``stream_time`` is the newest event time seen (a watermark), passed as ``now_hint``;
    :meth:`tick` re-evaluates every state at a later stream time, as a punctuator would.
    """

    policy: AreaPolicy = POLICY
    people: dict[str, PersonState] = field(default_factory=dict)
    places: dict[str, PlaceState] = field(default_factory=dict)
    alerts: list[AlertDraft] = field(default_factory=list)
    stream_time: datetime | None = None

    def _evaluate(self, state: PersonState | PlaceState) -> list[AlertDraft]:
        drafts = evaluate(self.policy, state, now_hint=self.stream_time)
        state.mark_raised(drafts)
        self.alerts += drafts
        return drafts

    def send(self, fact: Fact) -> list[AlertDraft]:
        """Process one fact; returns the alerts it raised."""
        moment = fact_time(fact)
        self.stream_time = max(self.stream_time or moment, moment)
        states: list[PersonState | PlaceState] = [
            self.people.setdefault(k, PersonState(key=k)) for k in person_keys(fact)
        ] + [self.places.setdefault(k, PlaceState(key=k)) for k in place_keys(fact, self.policy)]
        return [d for state in states if state.apply(fact) for d in self._evaluate(state)]

    def tick(self, now: datetime) -> list[AlertDraft]:
        """Advance stream time and re-evaluate every state (timers, e.g. the CPN grace)."""
        self.stream_time = max(self.stream_time or now, now)
        states: list[PersonState | PlaceState] = [*self.people.values(), *self.places.values()]
        return [d for state in states for d in self._evaluate(state)]

    def run(self, facts: Iterable[Fact]) -> list[AlertDraft]:
        """Process facts in the order given; returns every alert raised."""
        for fact in facts:
            self.send(fact)
        return self.alerts

    def ids(self) -> set[str]:
        """Ids of every alert raised so far."""
        return {a.alert_id for a in self.alerts}


def run(facts: Iterable[Fact], policy: AreaPolicy = POLICY) -> list[AlertDraft]:
    """All alerts from processing ``facts`` in order with a fresh stream."""
    return Stream(policy).run(facts)
