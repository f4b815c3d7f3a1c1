"""The cuckooing scenario end to end at the domain level, in order and in any order."""

from __future__ import annotations

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.vocab import AlertRule, Partner
from services.correlator.domain.alerts import AlertDraft
from services.correlator.domain.facts import Fact
from services.correlator.domain.periods import local_date
from tests.correlator import cuckooing
from tests.correlator.builders import Stream, at, facts_of, run

FACTS = facts_of(cuckooing.events())
LATER = at("2026-08-01T12:00")


def _settled(facts: list[Fact]) -> Stream:
    """Process facts in the given order, then let stream time pass every grace period."""
    stream = Stream()
    stream.run(facts)
    stream.tick(LATER)
    return stream


IN_ORDER = _settled(FACTS).ids()


def _by(alerts: list[AlertDraft], rule: AlertRule, code: str | None = None) -> list[AlertDraft]:
    return [a for a in alerts if a.rule is rule and (code is None or a.reason_code == code)]


def test_scenario_raises_exactly_the_expected_alerts() -> None:
    """Bethany: threshold, prompt, vulnerable and high-risk reviews; Jordan reoffends; Tyler
    reoffends at a new address (he is the alleged perpetrator there, so both CPW rules hold)."""
    alerts = run(FACTS)
    summary = sorted((a.rule.value, a.reason_code) for a in alerts)
    assert summary == [
        ("perpetrator_under_cpw_new_address", "cpw_new_address"),
        ("perpetrator_under_cpw_reoffends", "cpw_reoffends"),
        ("perpetrator_under_cpw_reoffends", "cpw_reoffends"),
        ("review_suggested", "high_risk"),
        ("review_suggested", "vulnerable"),
        ("second_report_prompt", "second_report"),
        ("threshold_met", "threshold"),
    ]


def test_threshold_counts_the_first_three_incidents_with_both_agencies_for_1_april() -> None:
    """The episode counts 8 March, 1 April (police and housing, once) and 20 May."""
    (threshold,) = _by(run(FACTS), AlertRule.THRESHOLD_MET)
    assert [local_date(i.occurred_at) for i in threshold.incidents] == [
        date(2026, 3, 8),
        date(2026, 4, 1),
        date(2026, 5, 20),
    ]
    assert [i.reporting_agencies for i in threshold.incidents] == [
        (Partner.HOUSING,),
        (Partner.HOUSING, Partner.POLICE),
        (Partner.POLICE,),
    ]
    assert len(threshold.incidents[1].event_ids) == 2
    assert local_date(threshold.met_at) == date(2026, 5, 21)
    # Ten working days from Thu 21 May 2026, skipping the Spring bank holiday on 25 May.
    assert threshold.response_due_on == date(2026, 6, 5)


def test_all_bethany_alerts_share_one_subject_and_perpetrators_have_their_own() -> None:
    """One victim, one subject, whichever partner's record named her."""
    alerts = run(FACTS)
    victim_rules = {
        AlertRule.THRESHOLD_MET,
        AlertRule.SECOND_REPORT_PROMPT,
        AlertRule.REVIEW_SUGGESTED,
    }
    bethany = {a.subject for a in alerts if a.rule in victim_rules}
    assert len(bethany) == 1
    reoffends = _by(alerts, AlertRule.PERPETRATOR_UNDER_CPW_REOFFENDS)
    (new_address,) = _by(alerts, AlertRule.PERPETRATOR_UNDER_CPW_NEW_ADDRESS)
    assert len({a.subject for a in reoffends}) == 2
    assert new_address.subject in {a.subject for a in reoffends}
    assert not bethany & {a.subject for a in reoffends}


def test_jordan_reoffends_on_9_june_and_tyler_is_new_address_on_14_june() -> None:
    """The escalation alerts name the incident after the warning."""
    alerts = run(FACTS)
    reoffences = sorted(
        local_date(a.incidents[0].occurred_at)
        for a in _by(alerts, AlertRule.PERPETRATOR_UNDER_CPW_REOFFENDS)
    )
    assert reoffences == [date(2026, 6, 9), date(2026, 6, 14)]
    (moved,) = _by(alerts, AlertRule.PERPETRATOR_UNDER_CPW_NEW_ADDRESS)
    assert local_date(moved.met_at) == date(2026, 6, 14)
    assert not _by(alerts + _settled(FACTS).alerts, AlertRule.CPN_WITHOUT_PRIOR_CPW)


def test_second_report_prompt_on_1_april() -> None:
    """The prompt comes with the second distinct report (8 March, then 1 April)."""
    (prompt,) = _by(run(FACTS), AlertRule.SECOND_REPORT_PROMPT)
    assert [local_date(i.occurred_at) for i in prompt.incidents] == [
        date(2026, 3, 8),
        date(2026, 4, 1),
    ]


@settings(max_examples=100, deadline=None)
@given(st.permutations(range(len(FACTS))))
def test_any_arrival_order_gives_the_same_alert_ids(order: list[int]) -> None:
    """Late and out-of-order events, across partners, raise the same alerts (by id)."""
    assert _settled([FACTS[i] for i in order]).ids() == IN_ORDER


@settings(max_examples=30, deadline=None)
@given(st.permutations(range(len(FACTS))))
def test_any_arrival_order_gives_one_alert_per_condition(order: list[int]) -> None:
    """Whatever the order, each condition is raised once (no duplicate after late events)."""
    alerts = _settled([FACTS[i] for i in order]).alerts
    assert len(alerts) == len(IN_ORDER) == 7
