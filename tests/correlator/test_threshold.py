"""THRESHOLD_MET and SECOND_REPORT_PROMPT, table-driven over small incident histories."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import pytest

from contracts.envelope import CanonicalEvent
from contracts.vocab import AlertRule, AsbCategory, InterventionType, Partner, VictimType
from services.correlator.domain.alerts import AlertDraft
from services.correlator.domain.periods import local_date
from services.correlator.domain.policy import AreaPolicy
from services.correlator.domain.state import PersonState, evaluate
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
)

ANN = Who("Ann", "Lee", date(1980, 1, 1), police_id="P-ANN")
SHOP = Who(organisation="Corner Shop Ltd", victim_type=VictimType.BUSINESS)
HOME = place("1001")
ELSEWHERE = place("2002")
POLICE, HOUSING = Partner.POLICE, Partner.HOUSING
N2 = AreaPolicy(area_id="n2", area_name="N2", threshold=2)


@dataclass(frozen=True)
class R:
    """One report in a table row: when it happened, when and to whom it was reported."""

    occurred: str
    reported: str | None = None  # default: the next morning
    agency: Partner = POLICE
    category: AsbCategory = AsbCategory.PERSONAL
    where: str = "home"
    victim: Who = ANN

    def event(self, n: int) -> CanonicalEvent:
        reported = self.reported or f"{(at(self.occurred).date()).isoformat()}T23:59"
        return incident(
            f"{self.victim.organisation or self.victim.family}-{n}",
            self.agency,
            self.occurred,
            reported,
            victims=[self.victim],
            category=self.category,
            where=HOME if self.where == "home" else ELSEWHERE,
        )


def alerts_for(rows: list[R], policy: AreaPolicy = POLICY) -> list[AlertDraft]:
    return run(facts_of(r.event(n) for n, r in enumerate(rows)), policy)


def thresholds(alerts: list[AlertDraft]) -> list[AlertDraft]:
    return [a for a in alerts if a.rule is AlertRule.THRESHOLD_MET]


def counted_days(alert: AlertDraft) -> list[date]:
    return [local_date(i.occurred_at) for i in alert.incidents]


CASES: dict[str, tuple[list[R], AreaPolicy, list[list[date]]]] = {
    "exactly N inside six months": (
        [R("2026-01-10T20:00"), R("2026-03-01T20:00"), R("2026-07-10T20:00")],
        POLICY,
        [[date(2026, 1, 10), date(2026, 3, 1), date(2026, 7, 10)]],
    ),
    "Nth a day outside six months": (
        [R("2026-01-10T20:00"), R("2026-03-01T20:00"), R("2026-07-11T08:00")],
        POLICY,
        [],
    ),
    "complaint 32 days after the behaviour is not counted": (
        [R("2026-01-10T20:00"), R("2026-02-01T20:00"), R("2026-03-01T20:00", "2026-04-02T09:00")],
        POLICY,
        [],
    ),
    "late complaint kept while three others count": (
        [
            R("2026-01-10T20:00"),
            R("2026-02-01T20:00", "2026-03-05T09:00"),
            R("2026-03-01T20:00"),
            R("2026-04-01T20:00"),
        ],
        POLICY,
        [[date(2026, 1, 10), date(2026, 3, 1), date(2026, 4, 1)]],
    ),
    "one incident reported to police and housing counts once": (
        [
            R("2026-01-10T20:00"),
            R("2026-01-10T21:30", "2026-01-12T09:00", HOUSING),
            R("2026-03-01T20:00"),
        ],
        POLICY,
        [],
    ),
    "two reports to one agency the same night are two complaints": (
        [R("2026-01-10T19:00"), R("2026-01-10T23:00"), R("2026-03-01T20:00")],
        POLICY,
        [[date(2026, 1, 10), date(2026, 1, 10), date(2026, 3, 1)]],
    ),
    "reports at different properties are different incidents": (
        [
            R("2026-01-10T20:00"),
            R("2026-01-10T20:30", agency=HOUSING, where="elsewhere"),
            R("2026-03-01T20:00"),
        ],
        POLICY,
        [[date(2026, 1, 10), date(2026, 1, 10), date(2026, 3, 1)]],
    ),
    "nuisance and environmental reports are different incidents": (
        [
            R("2026-01-10T20:00", category=AsbCategory.NUISANCE),
            R("2026-01-10T20:30", None, HOUSING, AsbCategory.ENVIRONMENTAL),
            R("2026-03-01T20:00"),
        ],
        POLICY,
        [[date(2026, 1, 10), date(2026, 1, 10), date(2026, 3, 1)]],
    ),
    "N=2 policy alerts at the second": (
        [R("2026-01-10T20:00"), R("2026-02-10T20:00")],
        N2,
        [[date(2026, 1, 10), date(2026, 2, 10)]],
    ),
    "once per episode, again after the window": (
        [R(f"2026-0{m}-05T20:00") for m in range(1, 7)]
        + [R("2026-08-01T20:00"), R("2026-09-01T20:00"), R("2026-10-01T20:00")],
        POLICY,
        [
            [date(2026, 1, 5), date(2026, 2, 5), date(2026, 3, 5)],
            [date(2026, 8, 1), date(2026, 9, 1), date(2026, 10, 1)],
        ],
    ),
    "business victim": (
        [R(f"2026-0{m}-05T12:00", victim=SHOP) for m in (1, 2, 3)],
        POLICY,
        [[date(2026, 1, 5), date(2026, 2, 5), date(2026, 3, 5)]],
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_threshold(name: str) -> None:
    """Each history raises exactly the threshold episodes listed, counting those incidents."""
    rows, policy, expected = CASES[name]
    assert [counted_days(a) for a in thresholds(alerts_for(rows, policy))] == expected


def test_same_incident_lists_every_agency() -> None:
    """The incident reported to police and housing names both and both event ids."""
    rows = [
        R("2026-01-10T20:00"),
        R("2026-01-10T21:30", "2026-01-12T09:00", HOUSING),
        R("2026-03-01T20:00"),
        R("2026-04-01T20:00"),
    ]
    (alert,) = thresholds(alerts_for(rows))
    first = alert.incidents[0]
    assert first.reporting_agencies == (HOUSING, POLICE)
    assert len(first.event_ids) == 2
    assert first.first_reported_at == at("2026-01-10T23:59")


def test_episode_ordinals_make_distinct_ids() -> None:
    """The second episode of the same condition has its own deterministic id."""
    rows, policy, _ = CASES["once per episode, again after the window"]
    first, second = thresholds(alerts_for(rows, policy))
    assert (first.ordinal, second.ordinal) == (1, 2)
    assert first.alert_id != second.alert_id
    assert first.subject == second.subject


def test_late_event_before_the_episode_does_not_raise_again() -> None:
    """An earlier incident arriving after the alert would change its count: no second alert."""
    rows = [R("2026-02-05T20:00"), R("2026-03-05T20:00"), R("2026-04-05T20:00")]
    stream = Stream()
    stream.run(facts_of(r.event(n) for n, r in enumerate(rows)))
    assert len(thresholds(stream.alerts)) == 1
    late = R("2026-01-20T20:00", "2026-01-21T09:00").event(99)
    assert stream.send(facts_of([late])[0]) == []
    assert len(thresholds(stream.alerts)) == 1


def test_response_due_in_working_days_from_when_the_threshold_was_met() -> None:
    """Met when the third complaint was made (Thu 24 Dec 2026): due ten working days later."""
    rows = [R("2026-10-01T20:00"), R("2026-11-01T20:00"), R("2026-12-24T10:00")]
    (alert,) = thresholds(alerts_for(rows))
    assert alert.met_at == at("2026-12-24T23:59")
    assert alert.response_due_on == date(2027, 1, 12)


def test_ancient_history_raises_nothing_new() -> None:
    """Incidents older than window + allowed lateness before stream time are kept, not alerted."""
    rows = [R("2024-01-10T20:00"), R("2024-02-10T20:00"), R("2024-03-10T20:00")]
    state = PersonState(key="")
    facts = facts_of(r.event(n) for n, r in enumerate(rows))
    state.key = facts[0].people[0].block
    for fact in facts:
        state.apply(fact)
    assert evaluate(POLICY, state, now_hint=datetime.fromisoformat("2026-01-01T00:00+00:00")) == []
    assert len(evaluate(POLICY, state)) == 2  # without stream time: threshold and prompt


def test_second_report_prompt() -> None:
    """A victim's second distinct qualifying report prompts the SPOC once per episode."""
    rows = [R("2026-01-10T20:00"), R("2026-02-10T20:00"), R("2026-03-10T20:00")]
    prompts = [a for a in alerts_for(rows) if a.rule is AlertRule.SECOND_REPORT_PROMPT]
    assert [counted_days(a) for a in prompts] == [[date(2026, 1, 10), date(2026, 2, 10)]]


def test_no_second_report_prompt_when_the_threshold_is_two() -> None:
    """With N=2 the threshold alert already starts the review; no prompt as well."""
    rows = [R("2026-01-10T20:00"), R("2026-02-10T20:00")]
    rules = [a.rule for a in alerts_for(rows, N2)]
    assert rules == [AlertRule.THRESHOLD_MET]


def test_same_incident_reported_twice_is_not_a_second_report() -> None:
    """Police and housing reports of one incident are one report for the prompt too."""
    rows = [R("2026-01-10T20:00"), R("2026-01-10T21:30", "2026-01-12T09:00", HOUSING)]
    assert [a.rule for a in alerts_for(rows)] == []


def test_agency_responses_play_no_part() -> None:
    """Interventions between complaints (an agency responded) change nothing about the count."""
    rows = [R("2026-01-10T20:00"), R("2026-02-10T20:00"), R("2026-03-10T20:00")]
    complaints = facts_of(r.event(n) for n, r in enumerate(rows))
    warning = facts_of([intervention("wl", InterventionType.WARNING_LETTER, ANN, date(2026, 2, 1))])
    with_response = run([complaints[0], *warning, *complaints[1:]])
    assert [a.alert_id for a in with_response] == [a.alert_id for a in run(complaints)]
