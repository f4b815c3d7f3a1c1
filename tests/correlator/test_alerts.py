"""Drafts become TriggerAlertRaised events: deterministic, for police and the lead agency."""

from __future__ import annotations

import uuid

from contracts.vocab import AlertRule, Audience, Partner
from services.correlator.domain.alerts import ALERT_NAMESPACE, alert_event, alert_id
from services.correlator.domain.policy import AreaPolicy
from tests.correlator import cuckooing
from tests.correlator.builders import facts_of, run

LINCS = AreaPolicy(area_id="lincolnshire", area_name="Lincolnshire", qualifying_period=30)


def test_threshold_alert_event() -> None:
    """Area from the policy, audiences police and lead agency, raised at the time it was met."""
    alerts = run(facts_of(cuckooing.events()), LINCS)
    draft = next(a for a in alerts if a.rule is AlertRule.THRESHOLD_MET)
    event = alert_event(draft, LINCS)
    assert event.area == "lincolnshire"
    assert event.audiences == (Audience.POLICE, Audience.LEAD_AGENCY)
    assert event.raised_at == draft.met_at
    assert event.response_due_on == draft.response_due_on
    assert event.subject == draft.subject
    assert [i.reporting_agencies for i in event.incidents][1] == (Partner.HOUSING, Partner.POLICE)
    assert event.window_start <= event.incidents[0].occurred_at
    assert len(event.reason) <= 200


def test_alert_event_is_deterministic() -> None:
    """The same facts give byte-identical alert events (no wall clock anywhere)."""
    first = [
        alert_event(a, LINCS).model_dump_json() for a in run(facts_of(cuckooing.events()), LINCS)
    ]
    again = [
        alert_event(a, LINCS).model_dump_json() for a in run(facts_of(cuckooing.events()), LINCS)
    ]
    assert first == again


def test_alert_id_is_uuid5_of_area_rule_reason_subject_and_episode() -> None:
    """Documented formula, so other services can recompute it."""
    subject = "name_dob:" + "A" * 43
    expected = uuid.uuid5(ALERT_NAMESPACE, f"x|threshold_met|threshold|{subject}|1")
    assert alert_id("x", AlertRule.THRESHOLD_MET, "threshold", subject, 1) == str(expected)
    assert alert_id("x", AlertRule.THRESHOLD_MET, "threshold", subject, 2) != str(expected)


def test_reasons_carry_no_tokens() -> None:
    """Reason text names the condition, never a person or place."""
    for draft in run(facts_of(cuckooing.events())):
        assert ":" not in draft.reason.split(": ", 1)[-1]
        assert draft.subject not in draft.reason
