"""People and places as the rules see them: tokens and roles, plus the ids linkage needs.

A :class:`PersonFacet` is one person as one event names them. Its ``record_id`` says which
partner record it belongs to: the partner's own person identifier when it gave one (police
person id, housing person reference, NHS number for health), so that every event about that
record updates one linkage record; otherwise the mention itself (event record and position).
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts.parts import PersonRef, PlaceRef
from contracts.vocab import Partner, PersonRole, RiskLevel, TokenKind, VictimType
from services.correlator.domain.linkage import PersonRecord, blocking_key

__all__ = ["PARTNER_PERSON_ID", "PersonFacet", "PlaceFacet", "person_facet", "place_facet"]

#: The identifier each partner issues for its own person records.
PARTNER_PERSON_ID = {
    Partner.POLICE: TokenKind.POLICE_PERSON_ID,
    Partner.HOUSING: TokenKind.HOUSING_PERSON_REF,
    Partner.HEALTH: TokenKind.NHS_NUMBER,
}


@dataclass(frozen=True, kw_only=True)
class PersonFacet:
    """A person named in an event: role, tokens (strongest first) and routing block."""

    record_id: str
    role: PersonRole
    block: str
    keys: tuple[tuple[TokenKind, str], ...]
    victim_type: VictimType = VictimType.INDIVIDUAL
    risk: RiskLevel | None = None
    birth_year: int | None = None

    @property
    def subject(self) -> str:
        """The strongest token."""
        return self.keys[0][1]

    def record(self, places: frozenset[str] = frozenset()) -> PersonRecord:
        """This mention alone as a linkage record (``places`` where it was seen)."""
        return PersonRecord(
            record_id=self.record_id,
            keys=self.keys,
            birth_year=self.birth_year,
            places=places,
            premises=self.premises(places),
        )

    def premises(self, places: frozenset[str]) -> frozenset[str]:
        """The UPRN tokens among ``places`` when this is a business victim: where it trades."""
        if self.victim_type is not VictimType.BUSINESS:
            return frozenset()
        return frozenset(t for t in places if t.startswith(f"{TokenKind.UPRN.value}:"))


@dataclass(frozen=True, kw_only=True)
class PlaceFacet:
    """A place by its tokens only."""

    uprn: str | None = None
    address: str | None = None
    postcode: str | None = None

    @property
    def key(self) -> str | None:
        """UPRN token, else address token, as ``PlaceRef.key``."""
        return self.uprn or self.address

    @property
    def tokens(self) -> frozenset[str]:
        """UPRN and address tokens: sharing either means the same property."""
        return frozenset(t for t in (self.uprn, self.address) if t)

    def same_place(self, other: PlaceFacet) -> bool:
        """Same property: equal UPRNs when both have one, else a shared UPRN or address token."""
        if self.uprn and other.uprn:
            return self.uprn == other.uprn
        return bool(self.tokens & other.tokens)


def person_facet(
    person: PersonRef, partner: Partner, record_key: str, position: int
) -> PersonFacet:
    """Translate a contract ``PersonRef`` named at ``position`` in the event ``record_key``."""
    keys = tuple((key.kind, key.token) for key in person.keys)
    own_kind = PARTNER_PERSON_ID[partner]
    own = next((token for kind, token in keys if kind is own_kind), None)
    return PersonFacet(
        record_id=f"{partner.value}:{own}" if own else f"{record_key}#{position}",
        role=person.role,
        block=blocking_key(person),
        keys=keys,
        victim_type=person.victim_type,
        risk=person.risk,
        birth_year=person.birth_year,
    )


def place_facet(place: PlaceRef | None) -> PlaceFacet | None:
    """Translate a contract ``PlaceRef`` (sealed details dropped)."""
    if place is None or not (place.uprn or place.address or place.postcode):
        return None
    return PlaceFacet(uprn=place.uprn, address=place.address, postcode=place.postcode)
