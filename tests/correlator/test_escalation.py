"""The escalation ladder: CPN without CPW, reoffending and new addresses under a CPW."""

from __future__ import annotations

from datetime import date

from contracts.envelope import CanonicalEvent
from contracts.parts import PlaceRef
from contracts.vocab import AlertRule, InterventionType, Partner
from services.correlator.domain.alerts import AlertDraft
from services.correlator.domain.policy import AreaPolicy
from tests.correlator.builders import (
    POLICY,
    Stream,
    Who,
    at,
    facts_of,
    incident,
    intervention,
    place,
    run,
    tenancy,
)

CPW = InterventionType.COMMUNITY_PROTECTION_WARNING
CPN = InterventionType.COMMUNITY_PROTECTION_NOTICE
MAX = Who("Max", "Grey", date(1995, 5, 5), police_id="P-MAX")
VIC = Who("Vic", "Tim", date(1960, 6, 6), police_id="P-VIC")
OTHER = Who("Ola", "Other", date(1950, 1, 1), police_id="P-OLA")
HOME, FLAT_9 = place("5005"), place("9009")
NO_GRACE = AreaPolicy(area_id="t", area_name="T", cpn_prior_cpw_grace_days=0)


def rules(alerts: list[AlertDraft]) -> list[AlertRule]:
    return sorted(a.rule for a in alerts)


def by_max(ref: str, occurred: str, where: PlaceRef = HOME, victim: Who = VIC) -> CanonicalEvent:
    return incident(
        ref, Partner.POLICE, occurred, occurred, victims=[victim], perpetrators=[MAX], where=where
    )


def test_cpn_without_prior_cpw_flagged_once_the_grace_has_passed() -> None:
    """No warning known 14 days (stream time) after the notice: flagged, once."""
    stream = Stream()
    stream.run(facts_of([intervention("cpn1", CPN, MAX, date(2026, 3, 1))]))
    assert stream.alerts == []
    stream.tick(at("2026-03-15T00:00"))
    stream.tick(at("2026-04-15T00:00"))
    assert rules(stream.alerts) == [AlertRule.CPN_WITHOUT_PRIOR_CPW]


def test_cpn_without_prior_cpw_flagged_at_once_without_grace() -> None:
    """An area may choose no grace period."""
    events = [intervention("cpn1", CPN, MAX, date(2026, 3, 1))]
    assert rules(run(facts_of(events), NO_GRACE)) == [AlertRule.CPN_WITHOUT_PRIOR_CPW]


def test_cpn_after_cpw_not_flagged() -> None:
    """The warning came first, as the Act requires."""
    events = [
        intervention("cpw1", CPW, MAX, date(2026, 1, 10)),
        intervention("cpn1", CPN, MAX, date(2026, 3, 1)),
    ]
    assert rules(run(facts_of(events), NO_GRACE)) == []


def test_cpw_arriving_late_within_grace_prevents_the_flag() -> None:
    """Another agency's warning arriving after the notice, within the grace, counts."""
    stream = Stream()
    stream.run(facts_of([intervention("cpn1", CPN, MAX, date(2026, 3, 1))]))
    stream.tick(at("2026-03-05T00:00"))
    stream.run(
        facts_of([intervention("cpw1", CPW, MAX, date(2026, 1, 10), agency=Partner.HOUSING)])
    )
    stream.tick(at("2026-05-01T00:00"))
    assert stream.alerts == []


def test_perpetrator_under_cpw_reoffends() -> None:
    """An incident after the warning's day, while it is active."""
    events = [
        by_max("i1", "2026-01-05T20:00"),
        intervention("cpw1", CPW, MAX, date(2026, 1, 10), related=["i1"]),
        by_max("i2", "2026-01-10T21:00"),  # same day as the warning: not after it
        by_max("i3", "2026-02-01T20:00"),
    ]
    alerts = [
        a for a in run(facts_of(events)) if a.rule is AlertRule.PERPETRATOR_UNDER_CPW_REOFFENDS
    ]
    assert [a.incidents[0].occurred_at for a in alerts] == [at("2026-02-01T20:00")]
    assert alerts[0].window_start == at("2026-01-10T00:00")


def test_no_reoffence_after_the_warning_expired() -> None:
    """A warning with an expiry date no longer counts after it."""
    events = [
        intervention("cpw1", CPW, MAX, date(2026, 1, 10), expires=date(2026, 1, 31)),
        by_max("i3", "2026-02-01T20:00"),
    ]
    assert rules(run(facts_of(events))) == []


def test_assumed_twelve_months_when_no_expiry() -> None:
    """Without an expiry a warning is taken as active for ``cpw_assumed_active_months``."""
    events = [
        intervention("cpw1", CPW, MAX, date(2025, 1, 10)),
        by_max("late", "2026-01-11T20:00", victim=OTHER),
    ]
    assert rules(run(facts_of(events))) == []


def test_perpetrator_under_cpw_at_a_new_address() -> None:
    """Appearing at a property not behind the warning: new address (and a reoffence)."""
    events = [
        by_max("i1", "2026-01-05T20:00"),
        intervention("cpw1", CPW, MAX, date(2026, 1, 10), related=["i1"]),
        by_max("i2", "2026-02-01T20:00", where=FLAT_9, victim=OTHER),
        by_max("i3", "2026-02-08T20:00", where=FLAT_9, victim=OTHER),
    ]
    alerts = run(facts_of(events))
    new = [a for a in alerts if a.rule is AlertRule.PERPETRATOR_UNDER_CPW_NEW_ADDRESS]
    assert len(new) == 1  # once per new location
    assert new[0].met_at == at("2026-02-01T20:00")
    assert rules(alerts).count(AlertRule.PERPETRATOR_UNDER_CPW_REOFFENDS) == 2


def test_new_address_from_a_tenancy() -> None:
    """A tenancy starting elsewhere while under a warning is a new address (no reoffence)."""
    events = [
        by_max("i1", "2026-01-05T20:00"),
        intervention("cpw1", CPW, MAX, date(2026, 1, 10), related=["i1"]),
        tenancy("t1", MAX, FLAT_9, date(2026, 3, 1)),
    ]
    assert rules(run(facts_of(events))) == [AlertRule.PERPETRATOR_UNDER_CPW_NEW_ADDRESS]


def test_same_address_is_not_new() -> None:
    """Back at the address behind the warning is a reoffence, not a new address."""
    events = [
        by_max("i1", "2026-01-05T20:00"),
        intervention("cpw1", CPW, MAX, date(2026, 1, 10), related=["i1"]),
        by_max("i2", "2026-02-01T20:00", victim=OTHER),
    ]
    assert rules(run(facts_of(events))) == [AlertRule.PERPETRATOR_UNDER_CPW_REOFFENDS]


def test_new_address_waits_for_the_incidents_behind_the_warning() -> None:
    """Until a related incident is known, no location can be called new."""
    stream = Stream(POLICY)
    first = [
        intervention("cpw1", CPW, MAX, date(2026, 1, 10), related=["i1"]),
        tenancy("t1", MAX, FLAT_9, date(2026, 3, 1)),
    ]
    stream.run(facts_of(first))
    assert stream.alerts == []
    stream.run(facts_of([by_max("i1", "2026-01-05T20:00")]))
    assert rules(stream.alerts) == [AlertRule.PERPETRATOR_UNDER_CPW_NEW_ADDRESS]
