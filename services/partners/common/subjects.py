"""A partner's person or place, handed to :mod:`services.normalise.subjects` the same way.

Linkage works only if the same person or address gives the same tokens whichever agency
describes it, so housing and police must fill :class:`Identity` and :class:`Place` alike. The
formats name a few things differently (``party_type`` against ``person_type``; a housing person
ref against a police nominal id), so those are passed in; the rest is read through protocols.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Protocol

from contracts.vocab import RiskLevel, VictimType
from services.normalise.subjects import Identity, Place

__all__ = ["Locatable", "Party", "identity", "place"]


class Party(Protocol):
    """What both formats record about a person, business or community group."""

    @property
    def given_name(self) -> str | None: ...

    @property
    def family_name(self) -> str | None: ...

    @property
    def date_of_birth(self) -> date | None: ...

    @property
    def organisation_name(self) -> str | None: ...

    @property
    def phone(self) -> str | None: ...

    @property
    def email(self) -> str | None: ...


class Locatable(Protocol):
    """A place as both formats give it: UPRN when known, else address lines."""

    @property
    def uprn(self) -> str | None: ...

    @property
    def address_lines(self) -> Sequence[str]: ...

    @property
    def postcode(self) -> str | None: ...


def identity(
    person: Party,
    party_type: str,
    risk: RiskLevel | None = None,
    *,
    housing_person_ref: str | None = None,
    police_person_id: str | None = None,
) -> Identity:
    """``person`` as an :class:`Identity`, with the partner's own person identifier."""
    return Identity(
        given=person.given_name,
        family=person.family_name,
        birth_date=person.date_of_birth,
        police_person_id=police_person_id,
        housing_person_ref=housing_person_ref,
        organisation=person.organisation_name,
        phone=person.phone,
        email=person.email,
        victim_type=VictimType(party_type),
        risk=risk,
    )


def place(where: Locatable) -> Place:
    """``where`` as a :class:`Place` (address lines in the order given)."""
    return Place(uprn=where.uprn, lines=tuple(where.address_lines), postcode=where.postcode)
