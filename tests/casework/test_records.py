"""Recording OSARA work and the case-review lifecycle: sealed text, deadlines, audit, figures."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from contracts.audit import AuditAction
from contracts.casework import ApplicationRoute, CaseworkEvent, ResponseOutcome
from contracts.vocab import Audience
from services.casework.figures import year_containing, yearly_figures
from services.casework.osara import case_record
from services.casework.records import (
    CaseContext,
    Recorder,
    case_id_for_alert,
    casework_audit_record,
)
from services.correlator.chronology import WITHHELD
from services.protection.keys import LocalKeyStore

AT = datetime(2026, 12, 24, 10, 0, tzinfo=UTC)
SUBJECT = "name_dob:" + "A" * 43


def _recorder(keys: LocalKeyStore, alert: str = "alert-1") -> Recorder:
    context = CaseContext(
        case_id=case_id_for_alert(alert),
        case_subject=SUBJECT,
        area="millbrook",
        audiences=(Audience.LEAD_AGENCY, Audience.POLICE),
        user="officer-17",
        acting_for=Audience.LEAD_AGENCY,
    )
    return Recorder(context, keys)


def test_case_id_is_one_per_alert() -> None:
    """Opening a case twice from one alert gives one case."""
    assert case_id_for_alert("a") == case_id_for_alert("a") != case_id_for_alert("b")


def test_response_due_in_working_days_over_christmas(case_keys: LocalKeyStore) -> None:
    """Agreed on Christmas Eve 2026, two working days later is Wednesday 30 December."""
    event = _recorder(case_keys).response_agreed(
        AT, owner=Audience.HOUSING, agreed_on=date(2026, 12, 24), working_days=2,
        description="Change the locks and fit a door camera",
    )  # fmt: skip
    assert event.data.due_on == date(2026, 12, 30)  # type: ignore[union-attr]


def test_free_text_sealed_and_audit_record_is_metadata_only(case_keys: LocalKeyStore) -> None:
    """The objective travels sealed; its audit record names the field, never the text."""
    event = _recorder(case_keys).objective_set(
        AT, set_on=date(2026, 12, 24), objective="Bethany feels safe in her flat"
    )
    wire = event.model_dump_json()
    assert "Bethany" not in wire
    audit = casework_audit_record(event)
    assert audit.action is AuditAction.CASEWORK_RECORDED
    assert audit.fields == ("objective",)
    assert "Bethany" not in audit.model_dump_json()
    assert CaseworkEvent.model_validate_json(wire) == event


def test_blank_objective_is_refused(case_keys: LocalKeyStore) -> None:
    """An objective with no text is a clear error, not an empty record."""
    with pytest.raises(ValueError, match="objective"):
        _recorder(case_keys).objective_set(AT, set_on=date(2026, 12, 24), objective="  ")


def test_case_record_folds_osara_and_withholds_from_other_audiences(
    case_keys: LocalKeyStore,
) -> None:
    """Responses carry their assessment; an audience outside the case sees text withheld."""
    rec = _recorder(case_keys)
    agreed = rec.response_agreed(
        AT, owner=Audience.POLICE, agreed_on=date(2026, 12, 24), working_days=10,
        description="Patrols at Larkspur Court after 22:00",
    )  # fmt: skip
    events = [
        rec.objective_set(AT, set_on=date(2026, 12, 24), objective="Stop the visits"),
        agreed,
        rec.response_assessed(
            AT,
            response_id=agreed.id,
            assessed_on=date(2027, 1, 20),
            outcome=ResponseOutcome.WORKED,
            notes="No visits since patrols began",
        ),
        agreed,  # redelivered
    ]
    lead = case_record(events, rec.context.case_id, Audience.LEAD_AGENCY, case_keys)
    assert lead.objective is not None
    assert lead.objective.text == "Stop the visits"
    (response,) = lead.responses.values()
    assert response.outcome is ResponseOutcome.WORKED
    assert response.assessment_notes == "No visits since patrols began"
    health = case_record(events, rec.context.case_id, Audience.HEALTH, case_keys)
    assert health.objective is not None
    assert health.objective.text == WITHHELD


def test_yearly_figures_from_casework(case_keys: LocalKeyStore) -> None:
    """Applications, threshold not met, reviews and reviews with recommendations, per year."""
    one, two, three = (_recorder(case_keys, a) for a in ("a1", "a2", "a3"))
    alert, victim = ApplicationRoute.ASBX_ALERT, ApplicationRoute.VICTIM
    events = [
        one.application_received(AT, received_on=date(2026, 5, 1), route=alert),
        one.threshold_decided(AT, decided_on=date(2026, 5, 5), met=True, reason="three incidents"),
        one.review_held(AT, held_on=date(2026, 5, 20), recommendations=["Closure order", "Move"]),
        two.application_received(AT, received_on=date(2026, 6, 1), route=victim),
        two.threshold_decided(AT, decided_on=date(2026, 6, 3), met=False, reason="one incident"),
        three.application_received(AT, received_on=date(2027, 3, 31), route=victim),
        three.threshold_decided(AT, decided_on=date(2027, 4, 2), met=True, reason=None),
        three.review_held(AT, held_on=date(2027, 4, 9), recommendations=[]),
    ]  # fmt: skip
    figures = yearly_figures(events, year_containing(date(2026, 9, 1)))
    assert figures.label == "2026/27"
    assert (
        figures.applications_received,
        figures.threshold_not_met,
        figures.reviews_carried_out,
        figures.reviews_with_recommendations,
    ) == (3, 1, 1, 1)
    later = yearly_figures(events, date(2027, 4, 1))
    assert (later.applications_received, later.reviews_carried_out) == (0, 1)
    assert later.reviews_with_recommendations == 0
