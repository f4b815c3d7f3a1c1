"""Namesakes: one name and date of birth, different deterministic ids, never one victim."""

from __future__ import annotations

from datetime import date

import pytest

from contracts.envelope import CanonicalEvent
from contracts.vocab import AlertRule, Partner, PersonRole, VictimType
from services.correlator.domain.alerts import AlertDraft
from services.correlator.domain.linkage import PersonIndex, PersonRecord
from services.correlator.domain.people import person_facet
from services.correlator.domain.policy import AreaPolicy
from tests.correlator.builders import Stream, Who, facts_of, incident, place, ref, run, tok

DOB = date(1975, 6, 2)
A = Who("John", "Smith", DOB, police_id="P1")
B = Who("John", "Smith", DOB, police_id="P2")
#: A housing complaint giving only name and date of birth: could be either of them.
WEAK = Who("John", "Smith", DOB)
FULL_NAME = tok("name_dob", "JOHN SMITH|1975-06-02")
POLICE, HOUSING, HEALTH = Partner.POLICE, Partner.HOUSING, Partner.HEALTH


def report(label: str, who: Who, month: int, agency: Partner = POLICE) -> CanonicalEvent:
    """A complaint by ``who`` about behaviour on the 10th of ``month`` 2026, made that evening."""
    return incident(
        label, agency, f"2026-{month:02d}-10T20:00", f"2026-{month:02d}-10T23:00", victims=[who]
    )


def thresholds(alerts: list[AlertDraft]) -> list[AlertDraft]:
    return [a for a in alerts if a.rule is AlertRule.THRESHOLD_MET]


def events_of(*events: CanonicalEvent) -> frozenset[str]:
    return frozenset(e.id for e in events)


def record(who: Who, partner: Partner, label: str) -> PersonRecord:
    facet = person_facet(ref(who, PersonRole.VICTIM), partner, f"{partner.value}:{label}", 0)
    return facet.record()


def test_namesakes_with_different_police_ids_do_not_count_together() -> None:
    """Two complaints by A and one by B, threshold 3: no threshold alert."""
    events = [report("a1", A, 1), report("a2", A, 2), report("b1", B, 3)]
    assert thresholds(run(facts_of(events))) == []


def test_fourth_complaint_raises_one_alert_naming_only_the_namesakes_own_incidents() -> None:
    """A fourth complaint, A's third: one alert, counting A's incidents only."""
    a1, a2, b1, a3 = report("a1", A, 1), report("a2", A, 2), report("b1", B, 3), report("a3", A, 4)
    (alert,) = thresholds(run(facts_of([a1, a2, b1, a3])))
    assert alert.event_ids == events_of(a1, a2, a3)
    assert alert.linkage_confidence == 1.0
    assert alert.reason.endswith("(area threshold 3)")


@pytest.mark.parametrize(
    ("first", "second", "agency"),
    [
        (A, B, POLICE),
        (
            Who("John", "Smith", DOB, nhs="9434765919"),
            Who("John", "Smith", DOB, nhs="9434765870"),
            HEALTH,
        ),
        (
            Who("John", "Smith", DOB, housing_ref="H1"),
            Who("John", "Smith", DOB, housing_ref="H2"),
            HOUSING,
        ),
    ],
    ids=["police ids", "nhs numbers", "housing refs"],
)
def test_namesake_meets_own_threshold_after_the_other_was_alerted(
    first: Who, second: Who, agency: Partner
) -> None:
    """B's three complaints raise B's own alert, though A's (under the shared name) came first."""
    mine = [report(f"x{m}", first, m, agency) for m in (1, 2, 3)]
    theirs = [report(f"y{m}", second, m, agency) for m in (4, 5, 6)]
    alerts = thresholds(run(facts_of(mine + theirs)))
    assert [a.event_ids for a in alerts] == [events_of(*mine), events_of(*theirs)]
    assert alerts[0].subject == FULL_NAME  # unchanged for the person alone when alerted
    assert alerts[1].subject not in (FULL_NAME, alerts[0].subject)


def test_namesakes_second_report_prompt_is_their_own() -> None:
    """Each namesake's second complaint prompts the SPOC about that namesake."""
    events = [report("a1", A, 1), report("a2", A, 2), report("b1", B, 3), report("b2", B, 4)]
    prompts = [a for a in run(facts_of(events)) if a.rule is AlertRule.SECOND_REPORT_PROMPT]
    assert [p.event_ids for p in prompts] == [
        events_of(*events[:2]),
        events_of(*events[2:]),
    ]


def test_alert_under_the_shared_name_is_not_raised_again_when_a_namesake_appears() -> None:
    """A's alert keeps its subject and blocks A's episode; B's arrival raises nothing for A."""
    stream = Stream()
    first = stream.run(facts_of([report(f"a{m}", A, m) for m in (1, 2, 3)]))
    assert [a.subject for a in thresholds(first)] == [FULL_NAME]
    stream.run(facts_of([report("b1", B, 3), report("a4", A, 4), report("a5", A, 5)]))
    assert len(thresholds(stream.alerts)) == 1
    assert len(stream.ids()) == len(stream.alerts)


def test_weak_record_matching_two_namesakes_joins_neither() -> None:
    """A name-and-dob-only record scoring equally with P1 and P2 is ambiguous, not a bridge."""
    a, b = record(A, POLICE, "a"), record(B, POLICE, "b")
    weak = record(WEAK, HOUSING, "w")
    index = PersonIndex.of([a, b, weak])
    assert len(index.clusters) == 3
    assert index.cluster_of(a.record_id).possible == {weak.record_id}
    assert index.cluster_of(b.record_id).possible == {weak.record_id}
    assert index.cluster_of(weak.record_id).possible == {a.record_id, b.record_id}
    ids = {c.person_id for c in index.clusters}
    assert len(ids) == 3
    assert FULL_NAME not in ids


def test_weak_record_matching_one_person_still_links() -> None:
    """Without a namesake the same weak record links to A as before."""
    a, weak = record(A, POLICE, "a"), record(WEAK, HOUSING, "w")
    (cluster,) = PersonIndex.of([a, weak]).clusters
    assert cluster.person_id == FULL_NAME
    assert cluster.possible == frozenset()


def test_ambiguous_complaint_counts_for_neither_namesake() -> None:
    """B twice, then a name-only housing complaint and one by A: nobody has three."""
    events = [
        report("b1", B, 1),
        report("a1", A, 2),
        report("w1", WEAK, 3, HOUSING),
        report("b2", B, 4),
    ]
    alerts = run(facts_of(events))
    assert thresholds(alerts) == []
    (prompt,) = [a for a in alerts if a.rule is AlertRule.SECOND_REPORT_PROMPT]
    assert prompt.event_ids == events_of(events[0], events[3])
    assert prompt.unresolved_matches == 1
    assert "review linkage" in prompt.reason


def test_scored_link_confidence_is_reported_when_it_makes_the_count() -> None:
    """Beth (police) twice and Bethany (housing) once: alert says linkage confidence 0.7."""
    beth = Who("Beth", "Marsh", date(1989, 4, 17), police_id="PP-1")
    bethany = Who("Bethany", "Marsh", date(1989, 4, 17), housing_ref="HP-1")
    events = [report("m1", beth, 1), report("m2", bethany, 2, HOUSING), report("m3", beth, 3)]
    (alert,) = thresholds(run(facts_of(events)))
    assert alert.linkage_confidence == 0.7
    assert "confidence 0.70" in alert.reason
    assert len(alert.reason) <= 200


def test_confidence_is_full_when_the_counted_records_share_an_identifier() -> None:
    """A scored link elsewhere in the cluster does not lower an alert resting on one record."""
    beth = Who("Beth", "Marsh", date(1989, 4, 17), police_id="PP-1")
    bethany = Who("Bethany", "Marsh", date(1989, 4, 17), housing_ref="HP-1")
    events = [report(f"m{m}", beth, m) for m in (1, 2, 3)] + [report("h", bethany, 4, HOUSING)]
    (alert,) = thresholds(run(facts_of(events)))
    assert alert.linkage_confidence == 1.0


def test_n2_area_counts_namesakes_apart() -> None:
    """With threshold 2, one complaint each is not a threshold met."""
    policy = AreaPolicy(area_id="n2", area_name="N2", threshold=2)
    events = [report("a1", A, 1), report("b1", B, 2)]
    assert thresholds(run(facts_of(events), policy)) == []


def test_human_unlink_resolves_an_ambiguous_record() -> None:
    """Told the weak record is not B, linkage puts it with A (scored, confidence shown)."""
    a, b = record(A, POLICE, "a"), record(B, POLICE, "b")
    weak = record(WEAK, HOUSING, "w")
    index = PersonIndex.of([a, b, weak], unlinked=[(weak.record_id, b.record_id)])
    assert index.cluster_of(weak.record_id).members == {a.record_id, weak.record_id}
    assert index.cluster_of(a.record_id).confidence == 0.95
    assert index.cluster_of(b.record_id).possible == frozenset()


def test_two_branches_of_one_business_are_two_victims() -> None:
    """Same trading name, different premises (UPRNs): complaints do not count together."""
    shop = Who(organisation="Costa Coffee", victim_type=VictimType.BUSINESS)
    events = [
        incident(
            f"s{m}",
            POLICE,
            f"2026-0{m}-10T20:00",
            f"2026-0{m}-10T23:00",
            victims=[shop],
            where=place(uprn),
        )
        for m, uprn in ((1, "100"), (2, "200"), (3, "100"))
    ]
    assert thresholds(run(facts_of(events))) == []


def test_one_business_at_its_premises_counts_across_agencies() -> None:
    """Three complaints about one shop, to police and housing, meet the threshold."""
    shop = Who(organisation="Costa Coffee", victim_type=VictimType.BUSINESS)
    events = [
        incident(
            f"s{m}",
            agency,
            f"2026-0{m}-10T20:00",
            f"2026-0{m}-10T23:00",
            victims=[shop],
            where=place("100"),
        )
        for m, agency in ((1, POLICE), (2, HOUSING), (3, POLICE))
    ]
    (alert,) = thresholds(run(facts_of(events)))
    assert len(alert.incidents) == 3


def test_business_complaint_without_premises_matching_two_branches_joins_neither() -> None:
    """A complaint naming the chain but no premises is ambiguous once two branches are known."""
    shop = Who(organisation="Costa Coffee", victim_type=VictimType.BUSINESS)
    events = [
        incident(
            f"s{m}",
            POLICE,
            f"2026-0{m}-10T20:00",
            f"2026-0{m}-10T23:00",
            victims=[shop],
            where=place(uprn) if uprn else None,
        )
        for m, uprn in ((1, "100"), (4, "200"), (2, None), (3, "100"))
    ]
    assert thresholds(run(facts_of(events))) == []


def test_community_group_counts_across_places() -> None:
    """A residents' group's complaints about ASB at different places are one victim's."""
    group = Who(organisation="Elm Street Residents", victim_type=VictimType.COMMUNITY_GROUP)
    events = [
        incident(
            f"g{m}",
            POLICE,
            f"2026-0{m}-10T20:00",
            f"2026-0{m}-10T23:00",
            victims=[group],
            where=place(uprn),
        )
        for m, uprn in ((1, "100"), (2, "200"), (3, "300"))
    ]
    assert len(thresholds(run(facts_of(events)))) == 1


@pytest.mark.xfail(
    strict=True,
    reason="records in different blocking keys never meet: person state is keyed by name + dob",
)
def test_same_nhs_number_counts_across_differently_recorded_family_names() -> None:
    """Health records Sian Rhys-Jones, police Sian Jones, one NHS number: one victim's three."""
    nhs = "9434765919"
    health = Who("Sian", "Rhys-Jones", DOB, nhs=nhs)
    police = Who("Sian", "Jones", DOB, police_id="PJ", nhs=nhs)
    events = [
        report("h1", health, 1, HEALTH),
        report("h2", health, 2, HEALTH),
        report("p1", police, 3),
    ]
    assert len(thresholds(run(facts_of(events)))) == 1


def test_name_only_complaints_that_could_be_either_namesake_alert_for_review() -> None:
    """Three name-only complaints are one victim's, unsure which namesake: alert says review."""
    events = [report("a1", A, 1), report("b1", B, 1)] + [
        report(f"w{m}", WEAK, m, HOUSING) for m in (2, 3, 4)
    ]
    (alert,) = thresholds(run(facts_of(events)))
    assert len(alert.incidents) == 3
    assert alert.subject not in (FULL_NAME, tok("police_person_id", "P1"))
    assert alert.subject.startswith("person:")
    assert alert.unresolved_matches == 2
    assert "review linkage" in alert.reason
    assert len(alert.reason) <= 200


def test_name_only_complainant_is_not_a_further_person_at_a_location() -> None:
    """Two neighbours, both namesakes and a record that could be either: four people, not five."""
    block = place("3003")
    people = [
        Who("Ann", "Cole", date(1970, 1, 1), police_id="N-1"),
        Who("Bob", "Hart", date(1971, 2, 2), police_id="N-2"),
        A,
        B,
        WEAK,
    ]
    events = [
        incident(
            f"loc-{n}",
            HOUSING if who is WEAK else POLICE,
            f"2026-0{n + 1}-10T20:00",
            f"2026-0{n + 1}-10T22:00",
            complainants=[who],
            where=block,
        )
        for n, who in enumerate(people)
    ]
    assert [a for a in run(facts_of(events)) if a.reason_code == "locality"] == []
    fifth = Who("Cy", "Dee", date(1972, 3, 3), police_id="N-3")
    more = incident(
        "loc-9", POLICE, "2026-05-20T20:00", "2026-05-20T22:00", complainants=[fifth], where=block
    )
    assert len([a for a in run(facts_of([*events, more])) if a.reason_code == "locality"]) == 1
