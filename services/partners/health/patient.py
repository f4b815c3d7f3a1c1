"""A UK Core Patient as the identity of the facts that refer to it.

Identifiers are checked here, with their location, so that a bad one refuses the message at
parse time: an NHS number (``https://fhir.nhs.uk/Id/nhs-number``, modulus-11 check digit), a
UPRN carried in the UK Core ``Extension-UKCore-AddressKey`` (type ``UPRN``), and a postcode.
Only current addresses (``use`` not ``old``, no ``period.end``) are kept; ``city`` is kept as an
address line so that the address token matches partners that write the town in their lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from contracts.rejection import ErrorDetail
from contracts.vocab import RejectReason
from services.identifiers import (
    InvalidIdentifierError,
    normalise_nhs_number,
    normalise_postcode,
    normalise_uprn,
)
from services.normalise.port import Refusal
from services.normalise.subjects import Identity, Place

__all__ = [
    "ADDRESS_KEY_URL",
    "NHS_NUMBER_SYSTEM",
    "Subject",
    "nhs_number",
    "patient_subject",
    "refuse",
]

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
ADDRESS_KEY_URL = "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-AddressKey"


@dataclass(frozen=True)
class Subject:
    """The person a fact is about, in the clear (protected later by ``person_ref``)."""

    identity: Identity
    places: tuple[Place, ...] = ()
    patient_key: str | None = None


def refuse(reason: RejectReason, location: str, problem: str) -> Refusal:
    """A refusal located in the message; ``problem`` must not quote the message's values."""
    return Refusal(
        reason, f"{location}: {problem}", (ErrorDetail(location=location, problem=problem),)
    )


def _checked(location: str, normalise: Any, value: Any) -> None:
    try:
        normalise(value)
    except InvalidIdentifierError as exc:
        raise refuse(exc.reason, location, str(exc)) from None


def nhs_number(identifiers: Any, path: str) -> str | None:
    """The first NHS number among FHIR Identifiers, refused if its format or check digit fails."""
    for i, identifier in enumerate(identifiers or ()):
        if identifier.system == NHS_NUMBER_SYSTEM:
            _checked(f"{path}[{i}].value", normalise_nhs_number, identifier.value or "")
            return str(identifier.value)
    return None


def _place(address: Any, path: str) -> Place:
    uprn = None
    for ext in address.extension or ():
        parts = {sub.url: sub for sub in ext.extension or ()} if ext.url == ADDRESS_KEY_URL else {}
        kind, value = parts.get("type"), parts.get("value")
        if kind and value and kind.valueCoding and str(kind.valueCoding.code).upper() == "UPRN":
            uprn = value.valueString
            _checked(f"{path}.extension(AddressKey).value", normalise_uprn, uprn or "")
    if address.postalCode:
        _checked(f"{path}.postalCode", normalise_postcode, address.postalCode)
    lines = tuple(str(line) for line in (*(address.line or ()), address.city) if line)
    return Place(uprn=uprn, lines=lines, postcode=address.postalCode)


def _first(items: Any, key: Any, preferred: tuple[str, ...]) -> Any:
    def rank(item: Any) -> int:
        value = key(item)
        return preferred.index(value) if value in preferred else len(preferred)

    return min(items or (), key=rank, default=None)


def patient_subject(patient: Any, path: str, key: str) -> Subject:
    """The identity and current addresses of a Patient; refuses bad identifiers."""
    name = _first(patient.name, lambda n: n.use, ("official", "usual"))
    phones = [t for t in patient.telecom or () if t.system == "phone" and t.use != "old"]
    phone = _first(phones, lambda t: t.use, ("mobile",))
    email = next((t for t in patient.telecom or () if t.system == "email"), None)
    birth = patient.birthDate
    identity = Identity(
        nhs_number=nhs_number(patient.identifier, f"{path}.identifier"),
        # FHIR JSON may carry ``null`` given names (aligned with ``_given`` extensions).
        given=(" ".join(g for g in name.given or () if g) or None) if name else None,
        family=name.family if name else None,
        birth_date=birth if isinstance(birth, date) and not isinstance(birth, datetime) else None,
        phone=phone.value if phone else None,
        email=email.value if email else None,
    )
    if not identity.nhs_number and not identity.family:
        raise refuse(
            RejectReason.SCHEMA_VIOLATION, path, "a Patient needs an NHS number or a family name"
        )
    places = tuple(
        _place(address, f"{path}.address[{i}]")
        for i, address in enumerate(patient.address or ())
        if address.use != "old" and not (address.period and address.period.end)
    )
    return Subject(identity=identity, places=places, patient_key=key)
