"""Properties of linkage with namesakes: no bridge between different ids, order never matters."""

from __future__ import annotations

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.envelope import CanonicalEvent
from contracts.vocab import AlertRule, Partner, PersonRole
from services.correlator.domain.linkage import DETERMINISTIC_KINDS, PersonIndex, PersonRecord
from tests.correlator.builders import Stream, Who, facts_of, incident, ref

DOB = date(1975, 6, 2)
#: First names every partner might record for one of the three men called Smith born that day.
GIVEN = ("John", "Jon", "Jonathan", "J")
#: Each person's identifiers: police id, NHS number, housing reference (``None``: has none).
PEOPLE = {
    "one": ("P1", "9434765919", "H1"),
    "two": ("P2", "9434765870", None),
    "three": (None, None, "H3"),
}


@st.composite
def person_records(draw: st.DrawFn) -> list[tuple[str | None, PersonRecord]]:
    """Records of the three namesakes, each with some of its person's ids (or none: weak)."""
    drawn = []
    for n in range(draw(st.integers(min_value=2, max_value=8))):
        person = draw(st.sampled_from([*PEOPLE, None]))
        police, nhs, housing = PEOPLE[person] if person else (None, None, None)
        who = Who(
            draw(st.sampled_from(GIVEN)),
            "Smith",
            DOB,
            police_id=police if draw(st.booleans()) else None,
            nhs=nhs if draw(st.booleans()) else None,
            housing_ref=housing if draw(st.booleans()) else None,
        )
        keys = tuple((k.kind, k.token) for k in ref(who, PersonRole.VICTIM).keys)
        record = PersonRecord(record_id=f"r{n:02d}", keys=keys, birth_year=DOB.year)
        strong = any(kind in DETERMINISTIC_KINDS for kind, _ in keys)
        drawn.append((person if strong else None, record))
    return drawn


@settings(max_examples=200, deadline=None)
@given(
    person_records(),
    st.lists(st.tuples(st.integers(0, 7), st.integers(0, 7)), max_size=3),
    st.randoms(use_true_random=False),
)
def test_no_cluster_holds_two_ids_of_one_kind_and_order_never_matters(
    drawn: list[tuple[str | None, PersonRecord]], cuts: list[tuple[int, int]], rng: object
) -> None:
    """Whatever the bridges and unlinks, a cluster never mixes two police ids, NHS numbers or
    housing refs, and the same records give the same clusters in any order."""
    records = [r for _, r in drawn]
    unlinked = [(f"r{a:02d}", f"r{b:02d}") for a, b in cuts if a != b]
    clusters = PersonIndex.of(records, unlinked).clusters
    by_id = {r.record_id: r for r in records}
    for cluster in clusters:
        held = [pair for m in cluster.members for pair in by_id[m].deterministic]
        for kind in DETERMINISTIC_KINDS:
            assert len({token for k, token in held if k is kind}) <= 1
        assert len({c.person_id for c in clusters}) == len(clusters)
    shuffled = list(records)
    rng.shuffle(shuffled)  # type: ignore[attr-defined]
    assert PersonIndex.of(shuffled, unlinked).clusters == clusters


ONE = Who("John", "Smith", DOB, police_id="P1")
ONE_AGAIN = Who("Jonathan", "Smith", DOB, police_id="P1")
TWO = Who("John", "Smith", DOB, police_id="P2")
WEAK = Who("Jon", "Smith", DOB)


def report(label: str, who: Who, month: int, agency: Partner = Partner.POLICE) -> CanonicalEvent:
    return incident(
        label,
        agency,
        f"2026-{month:02d}-10T20:00",
        f"2026-{month:02d}-10T23:00",
        victims=[who],
    )


STRONG = [
    report("a1", ONE, 1),
    report("a2", ONE_AGAIN, 2),
    report("a3", ONE, 3),
    report("b1", TWO, 2),
    report("b2", TWO, 3),
    report("b3", TWO, 4),
]
OWNER = {e.id: label for e, label in zip(STRONG, "aaabbb", strict=True)}
WEAK_REPORTS = [report("w1", WEAK, 2, Partner.HOUSING), report("w2", WEAK, 5, Partner.HOUSING)]


@settings(max_examples=60, deadline=None)
@given(st.permutations(STRONG))
def test_namesake_thresholds_do_not_depend_on_arrival_order(order: list[CanonicalEvent]) -> None:
    """Each namesake's three complaints make exactly their own threshold alert, in any order."""
    stream = Stream()
    alerts = stream.run(facts_of(order))
    met = sorted(
        "".join(sorted(OWNER[e] for e in a.event_ids))
        for a in alerts
        if a.rule is AlertRule.THRESHOLD_MET
    )
    assert met == ["aaa", "bbb"]
    assert len(stream.ids()) == len(alerts)


@settings(max_examples=60, deadline=None)
@given(st.permutations(STRONG + WEAK_REPORTS))
def test_no_alert_ever_counts_both_namesakes(order: list[CanonicalEvent]) -> None:
    """With name-only complaints arriving at any point, no alert rests on both A and B."""
    stream = Stream()
    for alert in stream.run(facts_of(order)):
        assert len({OWNER[e] for e in alert.event_ids if e in OWNER}) <= 1
    assert len(stream.ids()) == len(stream.alerts)
