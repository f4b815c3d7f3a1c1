"""The case behind an alert is its own victim's, never a namesake's."""

from __future__ import annotations

from datetime import date

import pytest

from contracts.envelope import CanonicalEvent
from contracts.vocab import AlertRule, Audience, Partner
from services.casework.case import CaseNotFoundError, build_case
from services.correlator.domain.policy import AreaPolicy
from services.protection.keys import LocalKeyStore
from tests.correlator.builders import Who, facts_of, incident, run

DOB = date(1975, 6, 2)
A = Who("John", "Smith", DOB, police_id="P1")
B = Who("John", "Smith", DOB, police_id="P2")


def report(label: str, who: Who, month: int) -> CanonicalEvent:
    return incident(
        label,
        Partner.POLICE,
        f"2026-{month:02d}-10T20:00",
        f"2026-{month:02d}-10T23:00",
        victims=[who],
    )


EVENTS = [report(f"a{m}", A, m) for m in (1, 2, 3)] + [report(f"b{m}", B, m) for m in (4, 5, 6)]


def test_each_namesakes_alert_opens_their_own_case(
    case_keys: LocalKeyStore, policy: AreaPolicy
) -> None:
    """A's alert (under the shared name) and B's (under B's id) open A's and B's cases."""
    first, second = [a for a in run(facts_of(EVENTS)) if a.rule is AlertRule.THRESHOLD_MET]
    for alert, mine in ((first, EVENTS[:3]), (second, EVENTS[3:])):
        case = build_case(
            EVENTS,
            alert.subject,
            Audience.LEAD_AGENCY,
            case_keys,
            policy,
            event_ids=alert.event_ids,
        )
        assert {r.event_id for r in case.victim.view.victim_reports} == {e.id for e in mine}


def test_shared_name_token_without_the_alert_is_refused(
    case_keys: LocalKeyStore, policy: AreaPolicy
) -> None:
    """Asked for the shared name token alone, the case is refused rather than guessed."""
    (first, _) = [a for a in run(facts_of(EVENTS)) if a.rule is AlertRule.THRESHOLD_MET]
    with pytest.raises(CaseNotFoundError, match="two people share"):
        build_case(EVENTS, first.subject, Audience.LEAD_AGENCY, case_keys, policy)
