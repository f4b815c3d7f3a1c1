"""Per-key state: redelivery, changelog round trip, corrections, unlinks and routing."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.vocab import AlertRule, Partner
from services.correlator.domain.facts import Fact, IncidentReport
from services.correlator.domain.routing import RecordRoutes, person_keys
from services.correlator.domain.state import PersonState, PlaceState, evaluate
from services.correlator.domain.views import current_facts, person_views
from tests.correlator import cuckooing
from tests.correlator.builders import POLICY, Stream, Who, facts_of, incident, place, run

ANN = Who("Ann", "Lee", date(1980, 1, 1), police_id="P-ANN")
HOME = place("1001")


def ann(n: int, occurred: str, version: int = 1, who: Who = ANN) -> Fact:
    event = incident(
        f"ann-{n}", Partner.POLICE, occurred, occurred, victims=[who], where=HOME, version=version
    )
    (fact,) = facts_of([event])
    return fact


def state_of(facts: list[Fact]) -> PersonState:
    state = PersonState(key=person_keys(facts[0])[0])
    for fact in facts:
        state.apply(fact)
    return state


def test_redelivered_fact_changes_nothing() -> None:
    """The same event id twice: not applied, no alert, identical changelog record."""
    facts = [ann(1, "2026-01-10T20:00"), ann(2, "2026-02-10T20:00"), ann(3, "2026-03-10T20:00")]
    stream = Stream()
    stream.run(facts)
    before = {k: s.to_json() for k, s in stream.people.items()}
    assert stream.send(facts[2]) == []
    assert {k: s.to_json() for k, s in stream.people.items()} == before


def test_json_round_trip_then_continue_gives_the_same_alerts() -> None:
    """Restoring from the changelog mid-stream loses and duplicates nothing."""
    facts = facts_of(cuckooing.events())
    whole = Stream()
    whole.run(facts)
    halves = Stream()
    halves.run(facts[:6])
    halves.people = {k: PersonState.from_json(s.to_json()) for k, s in halves.people.items()}
    halves.places = {k: PlaceState.from_json(s.to_json()) for k, s in halves.places.items()}
    for state in halves.people.values():
        assert state == PersonState.from_json(state.to_json())
    halves.run(facts[6:])
    assert [a.alert_id for a in halves.alerts] == [a.alert_id for a in whole.alerts]
    assert halves.alerts == whole.alerts


def test_changelog_record_is_deterministic_and_refuses_the_wrong_kind() -> None:
    """Equal states serialise to identical bytes; a place record is not a person state."""
    facts = [ann(1, "2026-01-10T20:00"), ann(2, "2026-02-10T20:00")]
    assert state_of(facts).to_json() == state_of(facts[::-1]).to_json()
    with pytest.raises(ValueError, match="Operator action"):
        PersonState.from_json(PlaceState(key="k").to_json())


@settings(max_examples=25, deadline=None)
@given(st.permutations(range(len(cuckooing.events()))))
def test_state_is_the_same_whatever_the_order(order: list[int]) -> None:
    """Facts are a set: any order of application gives the same changelog record."""
    facts = facts_of(cuckooing.events())
    block = person_keys(facts[2])[0]  # Bethany's
    in_order, shuffled = PersonState(key=block), PersonState(key=block)
    for fact in facts:
        in_order.apply(fact)
    for i in order:
        shuffled.apply(facts[i])
    assert in_order.to_json() == shuffled.to_json()
    assert evaluate(POLICY, in_order) == evaluate(POLICY, shuffled)


def test_correction_replaces_the_earlier_version() -> None:
    """A later version of one incident (corrected date) counts, the old one does not."""
    facts = [
        ann(1, "2026-01-10T20:00"),
        ann(2, "2026-02-10T20:00"),
        ann(3, "2026-03-10T20:00"),
        ann(3, "2026-09-10T20:00", version=2),  # the partner corrects the date of incident 3
    ]
    state = state_of(facts)
    assert len(state.facts) == 4
    current = [f for f in state.current() if isinstance(f, IncidentReport)]
    assert len(current) == 3
    assert not [a for a in evaluate(POLICY, state) if a.rule is AlertRule.THRESHOLD_MET]


def test_unlink_after_correction_splits_the_cluster_and_alert_state_follows() -> None:
    """Ben's police record wrongly carried Bethany's NHS number; once corrected, he is his own
    person: his incidents no longer sit inside Bethany's alerted episode, and meet his own."""
    dob = date(1989, 4, 17)
    bethany = Who("Bethany", "Marsh", dob, nhs="9434765919", housing_ref="H1")
    ben_wrong = Who("Ben", "Marsh", dob, nhs="9434765919", police_id="P2")
    ben_right = Who("Ben", "Marsh", dob, nhs="9434765870", police_id="P2")
    stream = Stream()
    stream.run([ann(n, f"2026-0{n}-10T20:00", who=bethany) for n in (1, 2, 3)])
    (bethany_alert,) = [a for a in stream.alerts if a.rule is AlertRule.THRESHOLD_MET]
    bens = [ann(n, f"2026-0{n}-10T20:00", who=ben_wrong) for n in (4, 5, 6)]
    raised_before = len(stream.alerts)
    stream.run(bens)
    assert len(stream.alerts) == raised_before  # merged with Bethany: inside her episode
    (state,) = stream.people.values()
    assert len(person_views(state.current(), state.key)) == 1

    new = stream.send(ann(6, "2026-06-10T20:00", version=2, who=ben_right))

    views = person_views(state.current(), state.key)
    assert len(views) == 2
    assert sorted(a.rule for a in new) == [AlertRule.SECOND_REPORT_PROMPT, AlertRule.THRESHOLD_MET]
    (ben_alert,) = [a for a in new if a.rule is AlertRule.THRESHOLD_MET]
    assert ben_alert.subject != bethany_alert.subject
    assert [i.occurred_at.month for i in ben_alert.incidents] == [4, 5, 6]


def test_human_unlink_in_state() -> None:
    """Unlinking two records re-evaluates them as two people."""
    dob = date(1989, 4, 17)
    facts = [
        ann(1, "2026-01-10T20:00", who=Who("Beth", "Marsh", dob, police_id="P1")),
        ann(2, "2026-02-10T20:00", who=Who("Bethany", "Marsh", dob, housing_ref="H9")),
    ]
    state = state_of(facts)
    assert len(person_views(state.current(), state.key)) == 1
    records = [p.record_id for f in facts for p in f.people]
    assert state.unlink(records[0], records[1])
    assert not state.unlink(records[1], records[0])
    assert len(person_views(state.current(), state.key, state.unlinked)) == 2
    assert PersonState.from_json(state.to_json()).unlinked == state.unlinked


def test_record_routes_send_a_correction_to_the_old_key_too() -> None:
    """A corrected date of birth moves the person to another blocking key; the old state still
    receives the correction, which supersedes the version it holds."""
    wrong = ann(1, "2026-01-10T20:00", who=Who("Ann", "Lee", date(1980, 1, 2), police_id="P-ANN"))
    right = ann(1, "2026-01-10T20:00", version=2)
    routes = RecordRoutes(record_key=wrong.record_key)
    (old_key,), _ = routes.route(wrong, POLICY)
    keys, places = routes.route(right, POLICY)
    assert old_key in keys
    assert len(keys) == 2
    assert places == (HOME.uprn,)
    old_state = PersonState(key=old_key)
    old_state.apply(wrong)
    old_state.apply(right)
    assert current_facts(old_state.facts.values()) == [right]
    assert person_views(old_state.current(), old_key) == []
    assert RecordRoutes.from_json(routes.to_json()) == routes


def test_place_state_round_trip() -> None:
    """Place state survives the changelog too."""
    events = facts_of(cuckooing.events())
    stream = Stream()
    stream.run(events)
    for state in stream.places.values():
        assert PlaceState.from_json(state.to_json()) == state


def test_run_helper_matches_stream() -> None:
    """The helper used across tests is the stream stand-in."""
    facts = [ann(1, "2026-01-10T20:00"), ann(2, "2026-02-10T20:00")]
    assert run(facts) == Stream().run(facts)
