"""The lead officer's case file: every partner's events about the victim and the visitors."""

from __future__ import annotations

import pytest

from contracts.envelope import CanonicalEvent
from contracts.vocab import Audience, TokenKind
from services.casework.case import CaseFile, CaseNotFoundError, build_case
from services.casework.present import WITHHELD_TEXT, detail_lines, headline
from services.correlator.chronology import WITHHELD
from services.correlator.domain.policy import AreaPolicy
from services.protection.keys import LocalKeyStore
from services.protection.tokens import Tokeniser
from tests.casework.scenario import bethany


def test_case_names_victim_and_both_visitors(lead_case: CaseFile) -> None:
    """The victim and the two visitors are named for an audience that may open identities."""
    assert lead_case.victim.label == "Bethany Marsh"
    assert sorted(p.label for p in lead_case.perpetrators) == ["Jordan Pike", "Tyler Voss"]


def test_chronology_spans_partners_in_time_order(lead_case: CaseFile) -> None:
    """Incidents, steps, flags, referral and tenancy from all three partners, oldest first."""
    kinds = [i.kind for i in lead_case.items]
    assert [i.occurred_at for i in lead_case.items] == sorted(
        i.occurred_at for i in lead_case.items
    )
    assert {"incident", "intervention", "vulnerability", "referral", "tenancy"} <= set(kinds)
    assert {s.partner for i in lead_case.items for s in i.sources} == {
        "housing",
        "health",
        "police",
    }
    steps = [
        i.sources[0].summary["intervention"] for i in lead_case.items if i.kind == "intervention"
    ]
    assert steps.count("community_protection_warning") == 2
    assert {"closure_notice", "closure_order", "community_protection_notice"} <= set(steps)


def test_one_incident_reported_twice_shows_once_with_both_agencies(lead_case: CaseFile) -> None:
    """The night of 1 April, reported to police and housing, is one entry naming both."""
    night = [i for i in lead_case.items if i.kind == "incident" and len(i.sources) > 1]
    assert len(night) == 1
    assert night[0].agencies == ("housing", "police")
    assert "one incident reported to housing and police" in headline(night[0])


def test_vulnerable_but_not_why_without_health_detail(lead_case: CaseFile) -> None:
    """The lead agency sees the victim is flagged vulnerable; the reason stays sealed."""
    assert lead_case.vulnerable
    flag = next(i for i in lead_case.items if i.kind == "vulnerability")
    assert headline(flag).startswith("Flagged vulnerable")
    assert flag.sources[0].opened["detail"] == WITHHELD
    assert ("Reason for the flag", WITHHELD_TEXT) in detail_lines(flag.sources[0])
    assert "detail" not in lead_case.opened_fields


def test_health_audience_reads_flag_reason_not_police_narrative(
    cuckooing: list[CanonicalEvent], case_keys: LocalKeyStore, policy: AreaPolicy
) -> None:
    """Health opens its own flag's reason, and not the police narrative."""
    case = build_case(cuckooing, bethany(case_keys), Audience.HEALTH, case_keys, policy)
    flags = [i for i in case.items if i.kind == "vulnerability"]
    assert all(f.sources[0].opened["detail"] != WITHHELD for f in flags)
    police = next(i for i in case.items if i.agencies == ("police",) and i.kind == "incident")
    assert police.sources[0].opened["narrative"] == WITHHELD


def test_unknown_subject_is_a_clear_error(
    cuckooing: list[CanonicalEvent], case_keys: LocalKeyStore, policy: AreaPolicy
) -> None:
    """A token no event names is refused, not shown as an empty case."""
    nobody = Tokeniser(case_keys).token(TokenKind.NAME_DOB, "NOBODY HERE|2000-01-01")
    with pytest.raises(CaseNotFoundError):
        build_case(cuckooing, nobody, Audience.POLICE, case_keys, policy)
