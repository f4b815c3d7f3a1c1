"""Person linkage over tokens only: which records, from which partners, are one person.

Records about one person rarely share a perfect identifier, so linkage works in two tiers:

* **deterministic** — records sharing an NHS number, police person id or housing person
  reference token are one person (confidence 1.0);
* **scored** — otherwise a pair of records scores points (see ``WEIGHTS``) and is linked at
  ``LINK_THRESHOLD`` or above, with confidence ``score / 100`` (never 1.0).

Two clusters are never joined when each holds a *different* token of the same deterministic kind
(two NHS numbers are two people, even for twins with one name and birthday), nor across a pair
someone has explicitly unlinked. A record that links to two such clusters (a name-and-dob-only
complaint when two namesakes hold different police ids) joins neither: see ``clusters.py``.
Clusters are always recomputed from the current records, never stored as irreversible unions:
when a partner corrects a record, the links it caused disappear.

Business victims are linked by trading name, and their premises act like an identifier: two
branches of one chain at different UPRNs are two victims, while a complaint naming the business
without premises links to the only branch it could be. Community groups are linked by name
alone: their complaints are often about ASB at different places.

Records reach the correlator already grouped by :func:`blocking_key`, so scoring compares only
records that share a family name, first initial and date of birth (or one strong identifier).
Spelling that normalisation absorbs (case, diacritics, apostrophes, hyphen or space in a
double-barrelled name, "Jon"/"Jonathan") gives one key. A family name one partner records in
full and another in part ("Rhys-Jones"/"Jones", "ap Rhys"/"Rhys") gives two keys, and those
records never meet, even when they share an NHS number: a known limit of keying person state by
name and birthday.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import combinations

from contracts.parts import PersonRef
from contracts.vocab import TokenKind
from services.correlator.domain.clusters import Cluster, Link, build_clusters

__all__ = [
    "DETERMINISTIC_KINDS",
    "LINK_THRESHOLD",
    "WEIGHTS",
    "Cluster",
    "Link",
    "PersonIndex",
    "PersonRecord",
    "blocking_key",
    "match_score",
]

#: Identifier kinds that name exactly one person within their issuer.
DETERMINISTIC_KINDS = frozenset(
    {TokenKind.NHS_NUMBER, TokenKind.POLICE_PERSON_ID, TokenKind.HOUSING_PERSON_REF}
)

#: Points for each kind of agreement between two records (scored tier).
WEIGHTS = {
    "full_name_dob": 90,  # same first name, family name and date of birth
    "initial_name_dob": 60,  # same first initial, family name and date of birth only
    "birth_year": 10,  # both give a birth year and it agrees (disagreeing vetoes the pair)
    "shared_place": 20,  # both appear at the same UPRN or address token
    "organisation": 80,  # same organisation name (business or community-group victims)
}
#: A scored pair at or above this many points is linked: initial + dob + birth year is enough.
LINK_THRESHOLD = 70
_SCORED_CAP = 95


def blocking_key(person: PersonRef) -> str:
    """The token a person mention is routed by, so that candidate matches meet in one state.

    With a date of birth, the first-initial + family name + dob variant: every partner that knows
    the name and birthday produces it, whatever the spelling of the first name ("Beth"/"Bethany").
    ``name_variants`` lists it last of the NAME_DOB keys. Without a date of birth the first
    deterministic identifier, else the subject token.
    """
    kinds = {key.kind for key in person.keys}
    name_dob = [key.token for key in person.keys if key.kind is TokenKind.NAME_DOB]
    if name_dob and TokenKind.DATE_OF_BIRTH in kinds:
        return name_dob[-1]
    for key in person.keys:
        if key.kind in DETERMINISTIC_KINDS:
            return key.token
    return person.subject


@dataclass(frozen=True, kw_only=True)
class PersonRecord:
    """One partner's record of a person: tokens, birth year and places it was seen at."""

    record_id: str
    keys: tuple[tuple[TokenKind, str], ...]
    birth_year: int | None = None
    places: frozenset[str] = frozenset()
    premises: frozenset[str] = frozenset()

    @property
    def subject(self) -> str:
        """The strongest token (keys come strongest first)."""
        return self.keys[0][1]

    def tokens(self, kind: TokenKind) -> tuple[str, ...]:
        """Tokens of one kind, in the order the partner mapping produced them."""
        return tuple(token for k, token in self.keys if k is kind)

    @property
    def deterministic(self) -> frozenset[tuple[TokenKind, str]]:
        """(kind, token) pairs of the identifiers that link on their own."""
        return frozenset((k, t) for k, t in self.keys if k in DETERMINISTIC_KINDS)

    @property
    def exclusive(self) -> frozenset[tuple[TokenKind, str]]:
        """Pairs two records must not hold different tokens of to be one victim: the
        deterministic identifiers, and a business victim's premises (UPRN tokens)."""
        return self.deterministic | {(TokenKind.UPRN, t) for t in self.premises}

    @property
    def full_name_dob(self) -> str | None:
        """The full first name + family + dob token, when the record has one distinct from the
        initial variant (a record with only an initial has none)."""
        variants = self.tokens(TokenKind.NAME_DOB)
        has_dob = bool(self.tokens(TokenKind.DATE_OF_BIRTH))
        return variants[0] if has_dob and len(variants) >= 2 else None

    @property
    def initial_name_dob(self) -> str | None:
        """The first initial + family + dob token (also the blocking key)."""
        variants = self.tokens(TokenKind.NAME_DOB)
        return variants[-1] if variants and self.tokens(TokenKind.DATE_OF_BIRTH) else None


def match_score(a: PersonRecord, b: PersonRecord) -> tuple[int, tuple[str, ...]]:
    """Scored-tier points for two records and the reasons that earned them."""
    if a.birth_year and b.birth_year and a.birth_year != b.birth_year:
        return 0, ("birth_year_differs",)
    reasons: list[str] = []
    if a.full_name_dob and a.full_name_dob == b.full_name_dob:
        reasons.append("full_name_dob")
    elif a.initial_name_dob and a.initial_name_dob == b.initial_name_dob:
        reasons.append("initial_name_dob")
    if reasons and a.birth_year and a.birth_year == b.birth_year:
        reasons.append("birth_year")
    if set(a.tokens(TokenKind.ORGANISATION)) & set(b.tokens(TokenKind.ORGANISATION)):
        reasons.append("organisation")
    if reasons and a.places & b.places:
        reasons.append("shared_place")
    return min(_SCORED_CAP, sum(WEIGHTS[r] for r in reasons)), tuple(reasons)


@dataclass
class PersonIndex:
    """The records of one blocking key and the clusters (people) they form.

    Mutations replace records or add unlink pairs; :attr:`clusters` is recomputed from scratch
    afterwards, so the result depends only on the current records, never on insertion order.
    """

    _records: dict[str, PersonRecord] = field(default_factory=dict)
    _unlinked: set[frozenset[str]] = field(default_factory=set)
    _clusters: tuple[Cluster, ...] | None = None

    @classmethod
    def of(
        cls, records: Iterable[PersonRecord], unlinked: Iterable[tuple[str, str]] = ()
    ) -> PersonIndex:
        """An index over ``records`` honouring explicit ``unlinked`` pairs of record ids."""
        index = cls()
        for record in records:
            index.add(record)
        for a, b in unlinked:
            index.unlink(a, b)
        return index

    def add(self, record: PersonRecord) -> None:
        """Insert a record, or replace it when a partner corrects it (same ``record_id``)."""
        self._records[record.record_id] = record
        self._clusters = None

    def remove(self, record_id: str) -> None:
        """Forget a record (e.g. the only event naming it was withdrawn)."""
        self._records.pop(record_id, None)
        self._clusters = None

    def unlink(self, a: str, b: str) -> None:
        """Record a human decision that two records are different people (scored tier only:
        a shared NHS number is taken as fact; correct the record instead)."""
        self._unlinked.add(frozenset((a, b)))
        self._clusters = None

    @property
    def records(self) -> tuple[PersonRecord, ...]:
        """Current records, by id."""
        return tuple(self._records[r] for r in sorted(self._records))

    @property
    def clusters(self) -> tuple[Cluster, ...]:
        """The people in this index, ordered by person id."""
        if self._clusters is None:
            records = self.records
            scored = []
            for a, b in combinations(records, 2):
                points, reasons = match_score(a, b)
                if points >= LINK_THRESHOLD:
                    scored.append((points, reasons, a.record_id, b.record_id))
            self._clusters = build_clusters(records, scored, self._unlinked)
        return self._clusters

    def cluster_of(self, record_id: str) -> Cluster:
        """The cluster holding a record."""
        for cluster in self.clusters:
            if record_id in cluster.members:
                return cluster
        raise KeyError(record_id)

    def person_id(self, record_id: str) -> str:
        """The stable person id of the cluster holding a record."""
        return self.cluster_of(record_id).person_id
