"""Turning a partner's view of a person or place into tokenised, sealed contract parts.

Shared by every partner mapping so that one person gives the same tokens whichever agency
describes them: the identifiers are normalised here the same way for all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from contracts.parts import PersonRef, PlaceRef
from contracts.protected import CorrelationKey
from contracts.vocab import PersonRole, RiskLevel, TokenKind, VictimType
from services.identifiers import (
    name_variants,
    normalise_address,
    normalise_name,
    normalise_nhs_number,
    normalise_postcode,
    normalise_uprn,
    outward_code,
)
from services.normalise.context import EventSealer, MappingContext

__all__ = ["Identity", "Place", "person_ref", "place_ref"]


@dataclass(frozen=True)
class Identity:
    """What a partner knows about a person, in the clear, before protection."""

    given: str | None = None
    family: str | None = None
    birth_date: date | None = None
    nhs_number: str | None = None
    police_person_id: str | None = None
    housing_person_ref: str | None = None
    organisation: str | None = None
    phone: str | None = None
    email: str | None = None
    victim_type: VictimType = VictimType.INDIVIDUAL
    risk: RiskLevel | None = None
    extra_contact: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Place:
    """A partner's address, before protection."""

    uprn: str | int | None = None
    lines: tuple[str, ...] = ()
    postcode: str | None = None


def _identity_keys(ctx: MappingContext, who: Identity) -> list[CorrelationKey]:
    keys: list[CorrelationKey] = []
    if who.nhs_number:
        keys.append(ctx.key(TokenKind.NHS_NUMBER, normalise_nhs_number(who.nhs_number)))
    if who.police_person_id:
        keys.append(ctx.key(TokenKind.POLICE_PERSON_ID, who.police_person_id.strip().upper()))
    if who.housing_person_ref:
        keys.append(ctx.key(TokenKind.HOUSING_PERSON_REF, who.housing_person_ref.strip().upper()))
    family = normalise_name(who.family or "")
    # A name in a script with no Latin transliteration normalises to nothing: it still travels
    # sealed, but cannot be a join key.
    if family:
        for variant in name_variants(who.given or "", who.family or "", who.birth_date):
            keys.append(ctx.key(TokenKind.NAME_DOB, variant))
        keys.append(ctx.key(TokenKind.NAME, family))
    if who.birth_date:
        keys.append(ctx.key(TokenKind.DATE_OF_BIRTH, who.birth_date.isoformat()))
    if who.organisation and normalise_name(who.organisation):
        keys.append(ctx.key(TokenKind.ORGANISATION, normalise_name(who.organisation)))
    return keys


def person_ref(
    ctx: MappingContext, sealer: EventSealer, path: str, role: PersonRole, who: Identity
) -> PersonRef:
    """Tokens for every identifier given; names, birth date and contact sealed.

    The subject is the strongest identifier present: NHS number, police person id, housing
    person reference, then name with date of birth, then organisation name.
    """
    keys = _identity_keys(ctx, who)
    if not keys:
        raise ValueError(f"{path}: a person needs at least one identifier or a name")
    identity = {
        k: v
        for k, v in {
            "given": who.given,
            "family": who.family,
            "birth_date": who.birth_date.isoformat() if who.birth_date else None,
            "organisation": who.organisation,
        }.items()
        if v
    }
    contact = {
        k: v for k, v in {"phone": who.phone, "email": who.email, **who.extra_contact}.items() if v
    }
    subject = keys[0].token
    sealer.bind_subject(subject)
    return PersonRef(
        role=role,
        subject=subject,
        keys=tuple(keys),
        victim_type=who.victim_type,
        risk=who.risk,
        birth_year=who.birth_date.year if who.birth_date else None,
        identity=sealer.seal_if(f"{path}.identity", "identity", identity, subject=subject),
        contact=sealer.seal_if(f"{path}.contact", "contact", contact, subject=subject),
    )


def place_ref(ctx: MappingContext, sealer: EventSealer, path: str, where: Place) -> PlaceRef:
    """UPRN and normalised-address tokens; the address itself sealed."""
    postcode = normalise_postcode(where.postcode) if where.postcode else None
    uprn = normalise_uprn(where.uprn) if where.uprn not in (None, "") else None
    address = normalise_address(list(where.lines), postcode) if where.lines else None
    readable = {"lines": list(where.lines), "postcode": postcode, "uprn": uprn}
    tokens = PlaceRef(
        uprn=ctx.token(TokenKind.UPRN, uprn) if uprn else None,
        address=ctx.token(TokenKind.ADDRESS, address) if address else None,
        postcode=ctx.token(TokenKind.POSTCODE, postcode) if postcode else None,
        postcode_district=outward_code(postcode) if postcode else None,
    )
    if tokens.key is not None:  # an event about premises (a closure order) is about the place
        sealer.bind_subject(tokens.key)
    details = sealer.seal_if(path, "address", {k: v for k, v in readable.items() if v})
    return tokens.model_copy(update={"details": details})
