"""Person linkage over tokens: blocking, deterministic and scored tiers, corrections."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from contracts.vocab import Partner, PersonRole, TokenKind
from services.correlator.domain.linkage import PersonIndex, PersonRecord, blocking_key
from services.correlator.domain.people import person_facet
from tests.correlator.builders import Who, ref, tok

DOB = date(1989, 4, 17)
BETHANY_H = Who("Bethany", "Marsh", DOB, housing_ref="HP-1")
BETH_P = Who("Beth", "Marsh", DOB, police_id="PP-1")


def record(
    who: Who, partner: Partner = Partner.POLICE, places: frozenset[str] = frozenset()
) -> PersonRecord:
    facet = person_facet(ref(who, PersonRole.VICTIM), partner, f"{partner.value}:incident:x", 0)
    return facet.record(places)


def test_blocking_key_is_initial_family_and_dob() -> None:
    """Beth and Bethany Marsh born the same day meet in one blocking key."""
    assert blocking_key(ref(BETHANY_H, PersonRole.VICTIM)) == tok("name_dob", "B MARSH|1989-04-17")
    assert blocking_key(ref(BETH_P, PersonRole.VICTIM)) == tok("name_dob", "B MARSH|1989-04-17")


def test_blocking_key_without_dob_is_first_deterministic_id_else_subject() -> None:
    """No date of birth: the partner's id; nothing strong: the subject token."""
    no_dob = Who("Irene", "Cole", police_id="PP-9")
    assert blocking_key(ref(no_dob, PersonRole.VICTIM)) == tok("police_person_id", "PP-9")
    shop = Who(organisation="Corner Shop")
    assert blocking_key(ref(shop, PersonRole.VICTIM)) == tok("organisation", "CORNER SHOP")


def test_shared_nhs_number_links_with_full_confidence() -> None:
    """Deterministic tier: one NHS number is one person, whatever the names say."""
    a = record(Who("Bethany", "Marsh", DOB, nhs="9434765919"), Partner.HEALTH)
    b = record(Who("B", "Marsh-Jones", None, nhs="9434765919", police_id="PP-2"))
    (cluster,) = PersonIndex.of([a, b]).clusters
    assert cluster.members == {a.record_id, b.record_id}
    assert cluster.confidence == 1.0
    assert cluster.links[0].tier == "deterministic"


def test_beth_and_bethany_link_by_score_below_certainty() -> None:
    """Initial + family + dob and the same birth year: linked, confidence 0.7."""
    a, b = record(BETHANY_H, Partner.HOUSING), record(BETH_P)
    (cluster,) = PersonIndex.of([a, b]).clusters
    assert cluster.confidence == 0.7
    assert cluster.links[0].tier == "scored"
    assert cluster.links[0].reasons == ("initial_name_dob", "birth_year")


def test_shared_address_raises_confidence() -> None:
    """Seen at the same property adds weight."""
    home = frozenset({tok("uprn", "1")})
    a, b = record(BETHANY_H, Partner.HOUSING, home), record(BETH_P, places=home)
    (cluster,) = PersonIndex.of([a, b]).clusters
    assert cluster.confidence == 0.9


def test_same_full_name_and_dob_links_strongly() -> None:
    """Two partners spelling the name the same way."""
    a = record(BETHANY_H, Partner.HOUSING)
    b = record(Who("Bethany", "Marsh", DOB, police_id="PP-7"))
    (cluster,) = PersonIndex.of([a, b]).clusters
    assert cluster.confidence == 0.95


def test_different_dob_not_linked() -> None:
    """Same name, another birthday: two people."""
    a = record(BETHANY_H, Partner.HOUSING)
    b = record(Who("Bethany", "Marsh", date(1990, 4, 17), police_id="PP-8"))
    assert len(PersonIndex.of([a, b]).clusters) == 2


def test_twins_with_different_nhs_numbers_not_linked() -> None:
    """A different identifier of the same kind vetoes a scored link."""
    a = record(Who("Bethany", "Marsh", DOB, nhs="9434765919"), Partner.HEALTH)
    b = record(Who("Ben", "Marsh", DOB, nhs="9434765870"), Partner.HEALTH)
    assert len(PersonIndex.of([a, b]).clusters) == 2


def test_human_unlink_splits_a_scored_link() -> None:
    """Someone who knows better says they are two people."""
    a, b = record(BETHANY_H, Partner.HOUSING), record(BETH_P)
    index = PersonIndex.of([a, b])
    assert len(index.clusters) == 1
    index.unlink(a.record_id, b.record_id)
    assert len(index.clusters) == 2


def test_record_correction_undoes_the_links_it_caused() -> None:
    """A corrected NHS number replaces the wrong one, and the cluster splits."""
    bethany = record(
        Who("Bethany", "Marsh", DOB, nhs="9434765919", housing_ref="H1"), Partner.HOUSING
    )
    ben_wrong = record(Who("Ben", "Marsh", DOB, nhs="9434765919", police_id="P2"))
    index = PersonIndex.of([bethany, ben_wrong])
    assert len(index.clusters) == 1
    index.add(record(Who("Ben", "Marsh", DOB, nhs="9434765870", police_id="P2")))
    assert len(index.clusters) == 2
    assert index.person_id(bethany.record_id) != index.person_id(ben_wrong.record_id)


def test_person_id_prefers_the_full_name_and_dob_token() -> None:
    """Every partner sends name and dob, so the id does not depend on who arrived first."""
    a, b = record(BETHANY_H, Partner.HOUSING), record(Who("Bethany", "Marsh", DOB, police_id="P"))
    full = tok("name_dob", "BETHANY MARSH|1989-04-17")
    assert PersonIndex.of([a]).person_id(a.record_id) == full
    assert PersonIndex.of([b, a]).person_id(a.record_id) == full


def test_record_keys_keep_their_kinds_in_order() -> None:
    """The record's subject is its strongest token."""
    a = record(BETHANY_H, Partner.HOUSING)
    assert a.subject == tok("housing_person_ref", "HP-1")
    assert a.keys[0][0] is TokenKind.HOUSING_PERSON_REF


PEOPLE = [
    record(BETHANY_H, Partner.HOUSING),
    record(BETH_P),
    record(Who("Bethany", "Marsh", DOB, nhs="9434765919"), Partner.HEALTH),
    record(Who("Ben", "Marsh", DOB, nhs="9434765870"), Partner.HEALTH),
    record(Who("Ben", "Marsh", DOB, police_id="PP-3")),
    record(Who("B", "Marsh", DOB, housing_ref="HP-1")),
]


@given(st.permutations(PEOPLE))
def test_clusters_do_not_depend_on_record_order(order: list[PersonRecord]) -> None:
    """Clusters are recomputed from records, sorted: insertion order never matters."""
    assert PersonIndex.of(order).clusters == PersonIndex.of(PEOPLE).clusters
