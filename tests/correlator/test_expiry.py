"""State expiry: what keyed state forgets on stream time, and what it must keep."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.vocab import AlertRule, InterventionType, Partner
from services.correlator.domain.alerts import AlertDraft
from services.correlator.domain.escalation import prior_warning
from services.correlator.domain.expiry import expire, kept_until, retention_cutoff
from services.correlator.domain.facts import Fact, InterventionFact
from services.correlator.domain.routing import RecordRoutes, person_keys
from services.correlator.domain.state import PersonState, evaluate
from services.correlator.domain.views import fact_time
from tests.correlator.builders import (
    POLICY,
    Who,
    at,
    facts_of,
    flag,
    incident,
    intervention,
    place,
)

VIC = Who("Vic", "Tim", date(1960, 6, 6), police_id="P-VIC")
MAX = Who("Max", "Grey", date(1995, 5, 5), police_id="P-MAX")
CPW = InterventionType.COMMUNITY_PROTECTION_WARNING
CPN = InterventionType.COMMUNITY_PROTECTION_NOTICE
HOME = place("5005")


def complaint(label: str, occurred: str, reported: str | None = None) -> Fact:
    """A police complaint by VIC."""
    return facts_of(
        [incident(label, Partner.POLICE, occurred, reported or occurred, victims=[VIC])]
    )[0]


def state_of(facts: list[Fact]) -> PersonState:
    """VIC's person state holding ``facts``, evaluated as the stream layer would."""
    state = PersonState(key=person_keys(facts[0])[0])
    for fact in facts:
        state.apply(fact)
        state.mark_raised(evaluate(POLICY, state))
    return state


def test_cutoff_is_window_plus_lateness_and_margin_before_stream_time() -> None:
    """Six months and 92 days, less the same-incident tolerance and a day, before stream time."""
    cutoff = retention_cutoff(POLICY, at("2026-10-15T12:00"))
    # 15 April (BST midnight is 23:00 UTC) less 92 days, less 6 hours and a day.
    assert cutoff == datetime(2026, 1, 11, 17, 0, tzinfo=UTC)


def test_fact_inside_the_window_is_kept() -> None:
    """An incident five months before stream time stays."""
    state = state_of([complaint("i1", "2026-01-10T20:00")])
    assert not expire(state, POLICY, at("2026-06-10T12:00"))
    assert len(state.facts) == 1


def test_fact_beyond_the_horizon_is_dropped_and_the_key_left_empty() -> None:
    """Ten months on, a lone incident is gone and nothing is left: the key can be deleted."""
    state = state_of([complaint("i1", "2026-01-10T20:00")])
    assert expire(state, POLICY, at("2026-11-20T12:00"))
    assert not state.facts
    assert not state.raised


def test_alert_numbering_anchors_outlive_the_facts_for_six_years() -> None:
    """With every fact gone the last alerts stay, so ids are not reused; six years on, not."""
    state = state_of([complaint(f"i{n}", f"2026-01-{10 + n}T20:00") for n in range(3)])
    raised = set(state.raised)
    assert expire(state, POLICY, at("2026-11-20T12:00"))
    assert not state.facts
    assert set(state.raised) == raised
    assert kept_until(state, POLICY) == date(2032, 1, 17)  # 6 x 366 days after the third
    expire(state, POLICY, at("2032-02-01T12:00"))
    assert not state.raised


def test_only_the_old_facts_go_while_recent_ones_stay() -> None:
    """An old incident goes; a recent one and the key stay."""
    state = state_of([complaint("old", "2025-01-10T20:00"), complaint("new", "2026-01-10T20:00")])
    assert expire(state, POLICY, at("2026-02-01T12:00"))
    assert [f.occurred_at for f in state.facts.values()] == [at("2026-01-10T20:00")]


def test_active_vulnerability_flag_is_never_forgotten() -> None:
    """A flag raised years ago with no end stays, and so does its key (never due)."""
    state = state_of(facts_of(flag("f1", VIC, date(2020, 3, 1))))
    assert not expire(state, POLICY, at("2026-06-01T12:00"))
    assert len(state.facts) == 1
    assert kept_until(state, POLICY) is None


def test_ended_vulnerability_flag_goes_with_its_end() -> None:
    """A flag ended long ago goes, raised and ended records together."""
    state = state_of(facts_of(flag("f1", VIC, date(2020, 3, 1), ended=date(2021, 1, 1))))
    expire(state, POLICY, at("2026-06-01T12:00"))
    assert not state.facts


def test_active_warning_and_the_incidents_behind_it_are_kept() -> None:
    """Under a live CPW the old incident it names stays: it decides which addresses are new."""
    behind = facts_of(
        [
            incident(
                "i1",
                Partner.POLICE,
                "2025-05-01T20:00",
                "2025-05-01T20:00",
                victims=[VIC],
                perpetrators=[MAX],
                where=HOME,
            ),
            intervention("cpw1", CPW, MAX, date(2025, 6, 1), related=["i1"]),
        ]
    )
    state = PersonState(key=person_keys(behind[1])[0])
    for fact in behind:
        state.apply(fact)
    assert not expire(state, POLICY, at("2026-04-01T12:00"))
    assert len(state.facts) == 2
    expire(state, POLICY, at("2028-06-01T12:00"))
    assert not state.facts


def test_warning_long_ended_is_not_the_one_behind_a_notice() -> None:
    """A CPW that ended more than the look-back before a CPN does not count as its warning."""
    warning, recent, notice = (
        f
        for f in facts_of(
            [
                intervention("cpw1", CPW, MAX, date(2023, 1, 10), expires=date(2023, 3, 1)),
                intervention("cpw2", CPW, MAX, date(2026, 1, 10)),
                intervention("cpn1", CPN, MAX, date(2026, 2, 1)),
            ]
        )
        if isinstance(f, InterventionFact)
    )
    assert not prior_warning(warning, notice, POLICY)
    assert prior_warning(recent, notice, POLICY)


def test_redelivered_old_event_is_dropped_and_raises_nothing() -> None:
    """An event before the cutoff, re-sent after its key forgot it, is dropped at once."""
    old = [complaint(f"i{n}", f"2025-01-{10 + n}T20:00") for n in range(3)]
    state = state_of([*old, complaint("new", "2026-01-10T20:00")])
    now = at("2026-02-01T12:00")
    expire(state, POLICY, now)
    assert all(f.event_id not in state.facts for f in old)
    for fact in old:
        assert state.apply(fact)
        expire(state, POLICY, now)
        assert fact.event_id not in state.facts
    assert evaluate(POLICY, state) == []


def test_latest_ordinal_is_kept_while_the_key_holds_facts() -> None:
    """The next episode is numbered after the last one, even once that alert's window passed."""
    first = [complaint(f"a{n}", f"2025-01-{10 + n}T20:00") for n in range(3)]
    second = [complaint(f"b{n}", f"2026-01-{10 + n}T20:00") for n in range(3)]
    state = state_of([*first, complaint("mid", "2025-12-01T20:00")])
    expire(state, POLICY, at("2025-12-31T12:00"))
    assert len(state.raised) == 2  # threshold and second-report prompt, kept as watermarks
    drafts = []
    for fact in second:
        state.apply(fact)
        expire(state, POLICY, fact_time(fact))
        drafts += evaluate(POLICY, state)
        state.mark_raised(drafts)
    threshold = [d for d in drafts if d.rule is AlertRule.THRESHOLD_MET]
    assert [d.ordinal for d in threshold] == [2]


def test_routes_expire_after_the_keyed_states_cutoff_and_a_lateness_more() -> None:
    """A record's routes outlive its keyed state by the allowed lateness."""
    routes = RecordRoutes("k")
    routes.route(complaint("i1", "2026-01-10T20:00"), POLICY)
    assert not routes.expired(POLICY, at("2026-11-20T12:00"))
    assert routes.expired(POLICY, at("2027-02-20T12:00"))


def test_routes_of_an_active_flag_never_expire() -> None:
    """The person state keeps an active flag for ever, so its routes stay too."""
    routes = RecordRoutes("k")
    routes.route(facts_of(flag("f1", VIC, date(2020, 3, 1)))[0], POLICY)
    assert not routes.expired(POLICY, at("2030-01-01T12:00"))


# One victim's complaints: day offset over three years, report delay, agency, hate, arrival delay.
_COMPLAINTS = st.lists(
    st.tuples(
        st.integers(0, 1100),
        st.integers(0, 45),
        st.booleans(),
        st.booleans(),
        st.integers(0, 60),
    ),
    min_size=1,
    max_size=25,
)


def _process(facts: list[Fact], forget: bool) -> list[AlertDraft]:
    """Facts in arrival order through one key, with or without expiry on stream time."""
    state = PersonState(key=person_keys(facts[0])[0])
    stream: datetime | None = None
    raised: list[AlertDraft] = []
    for fact in facts:
        stream = max(stream, fact_time(fact)) if stream else fact_time(fact)
        if not state.apply(fact):
            continue
        if forget:
            expire(state, POLICY, stream)
            if fact.event_id not in state.facts:
                continue
        drafts = evaluate(POLICY, state)
        state.mark_raised(drafts)
        raised += drafts
    return raised


@settings(max_examples=60)
@given(_COMPLAINTS)
def test_expiry_changes_no_alert_for_events_within_the_allowed_lateness(
    complaints: list[tuple[int, int, bool, bool, int]],
) -> None:
    """Forgetting on stream time raises exactly the alerts of never forgetting, when events
    arrive no later than the allowed lateness."""
    start = at("2025-01-01T18:00")
    arrivals: list[tuple[datetime, int, Fact]] = []
    for n, (day, delay, police, hate, lateness) in enumerate(complaints):
        occurred = start + timedelta(days=day, minutes=37 * n)
        agency = Partner.POLICE if police else Partner.HOUSING
        event = incident(
            f"c{n}",
            agency,
            occurred.isoformat(),
            (occurred + timedelta(days=delay)).isoformat(),
            victims=[VIC],
            hate=hate,
        )
        arrivals.append((occurred + timedelta(days=lateness), n, facts_of([event])[0]))
    facts = [f for _, _, f in sorted(arrivals, key=lambda a: (a[0], a[1]))]
    kept, full = _process(facts, forget=True), _process(facts, forget=False)
    assert [(d.alert_id, d.event_ids) for d in kept] == [(d.alert_id, d.event_ids) for d in full]
