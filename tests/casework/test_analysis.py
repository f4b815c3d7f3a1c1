"""OSARA analysis of the cuckooing case: peak times, the threshold, partners, the ladder."""

from __future__ import annotations

from datetime import date

from contracts.vocab import InterventionType
from services.casework.analysis import (
    DAYS,
    heat_map,
    involvement,
    ladder,
    threshold_series,
)
from services.casework.case import CaseFile


def test_heat_map_places_incidents_on_the_local_clock(lead_case: CaseFile) -> None:
    """Four distinct incidents, late evenings, on the England clock (BST applied)."""
    grid = heat_map(lead_case.victim_incidents)
    assert grid.total == 4
    wednesday = grid.counts[DAYS.index("Wednesday")]
    assert wednesday[22] == 1  # 1 April 22:30 BST, reported to two agencies, counted once
    assert wednesday[23] == 1  # 20 May 23:00 BST
    assert grid.counts[DAYS.index("Sunday")][21] == 1  # 8 March 21:00 GMT


def test_threshold_met_in_window_from_first_complaint(lead_case: CaseFile) -> None:
    """The third qualifying incident meets the threshold; the window runs six months."""
    series = threshold_series(lead_case.victim_incidents, lead_case.policy)
    assert [p.rolling for p in series.points] == [1, 2, 3, 4]
    assert series.threshold == 3
    assert series.window_start == date(2026, 3, 8)
    assert series.window_end == date(2026, 9, 8)
    assert series.met_on == date(2026, 5, 21)


def test_involvement_counts_each_partners_records(lead_case: CaseFile) -> None:
    """Every partner's contribution is counted by kind of record."""
    found = involvement(lead_case)
    assert set(found) == {"health", "housing", "police"}
    assert found["health"]["vulnerability"] == 2
    assert found["housing"]["incident"] == 2


def test_ladder_for_each_visitor(lead_case: CaseFile) -> None:
    """Jordan went on to a CPN after breaching his CPW at the flat; Tyler breached elsewhere."""
    ladders = {
        p.label: ladder(p, lead_case.policy, date(2026, 7, 1)) for p in lead_case.perpetrators
    }
    jordan, tyler = ladders["Jordan Pike"], ladders["Tyler Voss"]
    assert jordan.highest is InterventionType.COMMUNITY_PROTECTION_NOTICE
    assert tyler.highest is InterventionType.COMMUNITY_PROTECTION_WARNING
    assert jordan.active_cpw is not None
    assert tyler.active_cpw is not None
    assert [(b.occurred_on, b.elsewhere) for b in jordan.breaches] == [(date(2026, 6, 9), False)]
    assert [(b.occurred_on, b.elsewhere) for b in tyler.breaches] == [(date(2026, 6, 14), True)]
    assert jordan.rungs[0].intervention is InterventionType.WARNING_LETTER
    assert not jordan.rungs[0].active  # a letter is on record, not in force


def test_cpw_no_longer_active_after_it_lapses(lead_case: CaseFile) -> None:
    """A warning issued 25 May 2026 with no end is taken as in force for twelve months."""
    tyler = next(p for p in lead_case.perpetrators if p.label == "Tyler Voss")
    assert ladder(tyler, lead_case.policy, date(2027, 6, 1)).active_cpw is None
