"""Review suggestions: hate, vulnerable victim, high risk, locality."""

from __future__ import annotations

from datetime import date

import pytest

from contracts.envelope import CanonicalEvent
from contracts.vocab import AlertRule, Partner, RiskLevel
from services.correlator.domain.alerts import AlertDraft
from services.correlator.domain.policy import AreaPolicy, DiscretionaryRules, LinkedLocation
from tests.correlator.builders import Who, facts_of, flag, incident, place, run, tok

ANN = Who("Ann", "Lee", date(1980, 1, 1), police_id="P-ANN")
BLOCK = place("3003", "3 BLOCK ROAD", "AB1 2CD")


def reviews(alerts: list[AlertDraft]) -> list[str]:
    return sorted(a.reason_code for a in alerts if a.rule is AlertRule.REVIEW_SUGGESTED)


def one(occurred: str, *, hate: bool = False, risk: RiskLevel | None = None) -> CanonicalEvent:
    reported = f"{occurred[:10]}T23:00"
    return incident(
        f"ann-{occurred}",
        Partner.POLICE,
        occurred,
        reported,
        victims=[ANN],
        where=BLOCK,
        hate=hate,
        risk=risk,
    )


def test_one_hate_incident_suggests_review() -> None:
    """A single hate-motivated incident is enough, once per six months."""
    events = [one("2026-01-10T20:00", hate=True), one("2026-02-10T20:00", hate=True)]
    alerts = run(facts_of(events))
    assert reviews(alerts) == ["hate"]
    (hate,) = [a for a in alerts if a.reason_code == "hate"]
    assert hate.reason.startswith("hate: ")
    assert hate.incidents[0].hate_motivated


def test_vulnerable_victim_suggests_review() -> None:
    """An incident reported while the victim's vulnerability flag is active."""
    health = Who("Ann", "Lee", date(1980, 1, 1), nhs="9434765919")
    events = [*flag("f1", health, date(2026, 1, 1)), one("2026-01-10T20:00")]
    assert reviews(run(facts_of(events))) == ["vulnerable"]


@pytest.mark.parametrize(
    ("active_from", "ended"),
    [(date(2026, 2, 1), None), (date(2025, 6, 1), date(2026, 1, 5))],
)
def test_flag_not_active_when_reported_suggests_nothing(
    active_from: date, ended: date | None
) -> None:
    """Raised after the report, or ended before it: no vulnerability suggestion."""
    health = Who("Ann", "Lee", date(1980, 1, 1), nhs="9434765919")
    events = [*flag("f1", health, active_from, ended), one("2026-01-10T20:00")]
    assert reviews(run(facts_of(events))) == []


def test_high_risk_victim_suggests_review() -> None:
    """A high risk assessment in any report of an incident."""
    events = [
        one("2026-01-10T20:00", risk=RiskLevel.MEDIUM),
        one("2026-03-10T20:00", risk=RiskLevel.HIGH),
    ]
    alerts = run(facts_of(events))
    assert reviews(alerts) == ["high_risk"]


def test_discretionary_rules_can_be_switched_off() -> None:
    """An area that does not want review suggestions gets none."""
    none = DiscretionaryRules(hate=False, locality=False, vulnerability=False, high_risk=False)
    off = AreaPolicy(area_id="off", area_name="Off", discretionary=none)
    events = [one("2026-01-10T20:00", hate=True, risk=RiskLevel.HIGH)]
    assert reviews(run(facts_of(events), off)) == []


def neighbour(n: int) -> Who:
    return Who(f"Neighbour{n}", "Smith", date(1970, 1, n + 1), police_id=f"N-{n}")


def complaint(n: int, who: Who, agency: Partner = Partner.POLICE) -> CanonicalEvent:
    day = f"2026-0{1 + n % 6}-{10 + n:02d}"
    return incident(
        f"loc-{n}-{who.police_id}",
        agency,
        f"{day}T20:00",
        f"{day}T22:00",
        complainants=[who],
        where=BLOCK,
    )


LOCALITY_CASES = {
    "five distinct complainants": ([complaint(n, neighbour(n)) for n in range(5)], ["locality"]),
    "four distinct complainants": ([complaint(n, neighbour(n)) for n in range(4)], []),
    "five reports by the same person": ([complaint(n, neighbour(0)) for n in range(5)], []),
}


@pytest.mark.parametrize("name", list(LOCALITY_CASES))
def test_locality(name: str) -> None:
    """Five or more *distinct* people complaining about ASB at one place in six months."""
    events, expected = LOCALITY_CASES[name]
    alerts = [a for a in run(facts_of(events)) if a.reason_code == "locality"]
    assert reviews(alerts) == expected
    for alert in alerts:
        assert alert.subject == tok("uprn", "3003")
        assert len(alert.incidents) == 5


def test_locality_by_postcode_links_neighbouring_properties() -> None:
    """With ``same_postcode`` complaints about different flats in one postcode count together."""
    policy = AreaPolicy(area_id="pc", area_name="PC", linked_location=LinkedLocation.SAME_POSTCODE)
    events = [
        incident(
            f"pc-{n}",
            Partner.HOUSING,
            f"2026-02-{n + 1:02d}T20:00",
            f"2026-02-{n + 1:02d}T21:00",
            complainants=[neighbour(n)],
            where=place(f"40{n}", None, "AB1 2CD"),
        )
        for n in range(5)
    ]
    alerts = [a for a in run(facts_of(events), policy) if a.reason_code == "locality"]
    assert [a.subject for a in alerts] == [tok("postcode", "AB1 2CD")]
