"""SNOMED CT concepts that decide which health facts may leave the health side.

The agreement's purpose is safeguarding within the ASB Case Review, so only facts that say a
person is vulnerable, at risk of abuse or exploitation, or was referred to a support service are
shared. Everything else a health system sends (an allergy, a blood test) is dropped at the edge.

The lists are deliberately explicit (no subsumption: asbx holds no terminology server). A
concept a local system uses that is missing here is dropped, never guessed at; adding it is a
reviewed change to this file. Sources, per concept, are in the README ("Code sets").

``safeguarding`` marks concepts that record a concern about abuse, neglect or exploitation
(``VulnerabilityFlagRaised.safeguarding_concern``); the others record a condition or status that
makes a person vulnerable (a learning disability, a mental disorder).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["SNOMED", "Concept", "flag_concept", "referral_concept"]

SNOMED = "http://snomed.info/sct"


@dataclass(frozen=True)
class Concept:
    """One SNOMED CT concept asbx acts on."""

    code: str
    display: str
    safeguarding: bool = False


def _index(*concepts: Concept) -> dict[str, Concept]:
    return {concept.code: concept for concept in concepts}


#: Flag / Encounter.reasonCode concepts that are safeguarding- or vulnerability-relevant.
VULNERABILITY: dict[str, Concept] = _index(
    # Conditions and statuses that make a person vulnerable.
    Concept("110359009", "Intellectual disability (learning disability)"),
    Concept("417430008", "Vulnerable adult"),
    Concept("74732009", "Mental disorder"),
    Concept("401206008", "At risk for deliberate self harm"),
    Concept("225444004", "At risk for suicide"),
    Concept("401233007", "At risk for self-neglect"),
    # Concerns about abuse, neglect or exploitation.
    Concept("1188261000000103", "At risk of criminal exploitation", safeguarding=True),
    Concept("919461000000108", "At risk of sexual exploitation", safeguarding=True),
    Concept("716565009", "At increased risk of child sexual exploitation", safeguarding=True),
    Concept("761571000000106", "At risk of financial abuse", safeguarding=True),
    Concept("707087005", "At risk of domestic violence", safeguarding=True),
    Concept("697950003", "Suspected domestic abuse", safeguarding=True),
    Concept("881081000000100", "Domestic abuse victim in household", safeguarding=True),
    Concept("1054321000000100", "At risk of forced marriage", safeguarding=True),
    Concept("736792008", "At risk of honor based violence", safeguarding=True),
    Concept("836881000000105", "Child is cause for safeguarding concern", safeguarding=True),
    Concept("1064961000000107", "Child in family is safeguarding concern", safeguarding=True),
    Concept("342191000000101", "Subject to child protection plan", safeguarding=True),
    Concept(
        "1076171000000104", "Carer behaviour is cause for safeguarding concern", safeguarding=True
    ),
)

#: ServiceRequest code/category concepts that are referrals to a support service.
SUPPORT_REFERRAL: dict[str, Concept] = _index(
    # Drug and alcohol services.
    Concept("417096006", "Referral to community drug and alcohol team"),
    Concept("390857005", "Referral to community alcohol team"),
    Concept("396150002", "Referral for substance abuse"),
    Concept("401266006", "Referral to drug abuse counselor"),
    Concept("417699000", "Referral to drug treatment center"),
    Concept("431260004", "Referral to specialist alcohol treatment service"),
    Concept("4266003", "Patient referral for drug addiction rehabilitation"),
    Concept("38670004", "Patient referral for alcoholism rehabilitation"),
    # Mental health and learning disability services.
    Concept("390866009", "Referral to mental health team"),
    Concept("183583007", "Refer to mental health worker"),
    Concept("183584001", "Referral to community psychiatric nurse"),
    Concept("306226009", "Referral to mental health counseling service"),
    Concept("308477009", "Referral to psychiatrist"),
    Concept("413127007", "Referral to learning disability team"),
    # Social prescribing, social care, safeguarding and domestic abuse support.
    Concept("871731000000106", "Referral to social prescribing service"),
    Concept("306238000", "Referral to social services"),
    Concept("444543005", "Referral to social services for adult protection", safeguarding=True),
    Concept("514331000000104", "Adult safeguarding referral", safeguarding=True),
    Concept("431719007", "Referral to domestic violence advocate", safeguarding=True),
)


def _snomed_codes(concepts: Iterable[Any]) -> list[str]:
    """SNOMED codes of CodeableConcepts (fhir.resources models), in order."""
    codes: list[str] = []
    for concept in concepts:
        for coding in getattr(concept, "coding", None) or ():
            if coding.system == SNOMED and coding.code:
                codes.append(str(coding.code))
    return codes


def _first(index: dict[str, Concept], concepts: Iterable[Any]) -> Concept | None:
    return next((index[code] for code in _snomed_codes(concepts) if code in index), None)


def flag_concept(*concepts: Any) -> Concept | None:
    """The vulnerability concept among CodeableConcepts, if any (Flag.code, reasonCode)."""
    return _first(VULNERABILITY, [c for c in concepts if c is not None])


def referral_concept(code: Any, categories: Iterable[Any]) -> Concept | None:
    """The support-service concept of a ServiceRequest: its ``code`` first, then ``category``."""
    return _first(SUPPORT_REFERRAL, [c for c in (code, *categories) if c is not None])
