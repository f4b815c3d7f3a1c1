"""Canonical events become plain facts carrying tokens, dates, roles and agencies only."""

from __future__ import annotations

from datetime import date

from contracts.vocab import AlertRule, Partner, PersonRole, RiskLevel
from services.correlator.domain.alerts import alert_event
from services.correlator.domain.facts import (
    IncidentReport,
    InterventionFact,
    VulnerabilityFact,
    fact_from_event,
)
from tests.correlator import cuckooing
from tests.correlator.builders import (
    POLICY,
    Who,
    envelope,
    facts_of,
    flag,
    incident,
    place,
    run,
    tok,
)

DOB = date(1989, 4, 17)
VICTIM = Who("Bethany", "Marsh", DOB, police_id="PP-1")
CALLER = Who("Irene", "Cole", police_id="PP-2")
SUSPECT = Who("Jordan", "Pike", date(1998, 2, 3))


def test_incident_knows_every_role_and_its_location() -> None:
    """One report, several roles; the location keyed on UPRN, postcode kept for locality."""
    event = incident(
        "r1",
        Partner.POLICE,
        "2026-04-01T22:30",
        "2026-04-02T10:20",
        victims=[VICTIM],
        complainants=[CALLER],
        perpetrators=[SUSPECT],
        where=place("100023456789", "FLAT 4", "MB4 7QT"),
        risk=RiskLevel.HIGH,
    )
    fact = fact_from_event(event)
    assert isinstance(fact, IncidentReport)
    assert [p.role for p in fact.victims] == [PersonRole.VICTIM]
    assert [p.role for p in fact.complainants] == [PersonRole.COMPLAINANT]
    assert [p.role for p in fact.perpetrators] == [PersonRole.ALLEGED_PERPETRATOR]
    assert fact.location_key == tok("uprn", "100023456789")
    assert fact.location is not None
    assert fact.location.postcode == tok("postcode", "MB4 7QT")
    assert fact.is_high_risk
    assert fact.partner is Partner.POLICE
    assert fact.event_id == event.id


def test_address_token_is_the_key_without_a_uprn() -> None:
    """PlaceRef.key: UPRN first, the normalised-address token otherwise."""
    event = incident(
        "r2",
        Partner.POLICE,
        "2026-05-18T19:45",
        "2026-05-19T09:10",
        victims=[VICTIM],
        where=place(None, "LARKSPUR COURT", "MB4 7QT"),
    )
    fact = fact_from_event(event)
    assert isinstance(fact, IncidentReport)
    assert fact.location_key == tok("address", "LARKSPUR COURT")


def test_a_caller_with_no_victim_named_is_the_victim() -> None:
    """Most callers complain about behaviour affecting themselves."""
    event = incident(
        "r3", Partner.HOUSING, "2026-01-01T20:00", "2026-01-02T09:00", complainants=[CALLER]
    )
    fact = fact_from_event(event)
    assert isinstance(fact, IncidentReport)
    assert fact.victims == fact.complainants


def test_partner_person_id_makes_one_record_across_events() -> None:
    """Police person id identifies the police record; a name-only mention is its own record."""
    facts = facts_of(
        [
            incident(
                "a",
                Partner.POLICE,
                "2026-01-01T20:00",
                "2026-01-01T21:00",
                victims=[VICTIM],
                perpetrators=[SUSPECT],
            ),
            incident(
                "b",
                Partner.POLICE,
                "2026-02-01T20:00",
                "2026-02-01T21:00",
                victims=[VICTIM],
                perpetrators=[SUSPECT],
            ),
        ]
    )
    victims = {p.record_id for f in facts for p in f.people if p.role is PersonRole.VICTIM}
    suspects = {p.record_id for f in facts for p in f.people if p.role is not PersonRole.VICTIM}
    assert victims == {f"police:{tok('police_person_id', 'PP-1')}"}
    assert len(suspects) == 2


def test_flag_raised_and_ended_are_separate_records() -> None:
    """An end does not replace the raise: both are needed to know when the flag was active."""
    raised, ended = facts_of(flag("f1", VICTIM, date(2026, 1, 1), date(2026, 3, 1)))
    assert isinstance(raised, VulnerabilityFact)
    assert isinstance(ended, VulnerabilityFact)
    assert (raised.raised, ended.raised) == (True, False)
    assert raised.record_key != ended.record_key
    assert raised.flag_ref == ended.flag_ref


def test_intervention_fact() -> None:
    """A warning keeps its dates, target and related incidents (tokens)."""
    facts = facts_of(cuckooing.events())
    warnings = [
        f
        for f in facts
        if isinstance(f, InterventionFact)
        and f.record_key.endswith(tok("case_ref", "MSP-CPW-2026-0117"))
    ]
    (warning,) = warnings
    assert warning.issued_on == date(2026, 5, 25)
    assert warning.subject is not None
    assert len(warning.related_incidents) == 3


def test_alert_events_are_not_facts() -> None:
    """The correlator's own output, read back, is ignored by the rules."""
    draft = next(a for a in run(facts_of(cuckooing.events())) if a.rule is AlertRule.THRESHOLD_MET)
    alert = alert_event(draft, POLICY)
    event = envelope(alert, Partner.POLICE, draft.met_at, draft.met_at, "alert", draft.subject)
    assert fact_from_event(event) is None
