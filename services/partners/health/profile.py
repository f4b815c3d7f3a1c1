"""The health message profile: which resource is the message, who each fact is about.

On top of FHIR validation (``format``) this applies the rules of the documented partner format:
Bundle types, the partner message id, the source system, UK Core identifiers (NHS number with
its modulus-11 check, UPRN address key, postcode) and that every Flag and ServiceRequest can be
tied to a person, either a Patient in the Bundle or an NHS number on ``subject.identifier``.
Identifier problems are refused here, with the identifier's location, so mapping never meets them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from contracts.vocab import RejectReason
from services.normalise.subjects import Identity
from services.partners.health.patient import (
    NHS_NUMBER_SYSTEM,
    Subject,
    nhs_number,
    patient_subject,
    refuse,
)

__all__ = [
    "BUNDLE_TYPES",
    "DEFAULT_SOURCE_SYSTEM",
    "Entry",
    "HealthMessage",
    "Subject",
    "read_message",
]

BUNDLE_TYPES = frozenset({"collection", "transaction", "message", "searchset", "batch"})
DEFAULT_SOURCE_SYSTEM = "health-system"
_FACT_TYPES = ("Flag", "ServiceRequest", "Encounter")
_NEEDS_SUBJECT = ("Flag", "ServiceRequest")
_TEN_DIGITS = re.compile(r"(?<![0-9])[0-9]{10}(?![0-9])")


@dataclass(frozen=True)
class Entry:
    """One resource of the message, with where it sits."""

    path: str
    resource: Any
    full_url: str | None = None
    subject: Subject | None = None

    @property
    def type(self) -> str:
        """The FHIR resource type."""
        return str(self.resource.get_resource_type())

    @property
    def reference(self) -> str | None:
        """``Type/id`` as other resources refer to it (internal: the id may be personal)."""
        return f"{self.type}/{self.resource.id}" if self.resource.id else None

    @property
    def key(self) -> str:
        """The fact key: ``Type/id``, else the fullUrl, else ``Type@path``.

        It is written to the audit log (dropped facts) and may be the message id, so an id or
        fullUrl holding a ten-digit run (the NHS Spine uses the NHS number as Patient.id) is
        replaced by the entry's position.
        """
        for candidate in (self.reference, self.full_url):
            if candidate and not _TEN_DIGITS.search(candidate):
                return candidate
        return f"{self.type}@{self.path}"


@dataclass(frozen=True)
class HealthMessage:
    """A validated health message: its id, origin, facts and the Patients they refer to."""

    message_id: str
    source_system: str
    syntax: str
    facts: tuple[Entry, ...]
    patients: tuple[Entry, ...]


def _resolve(entry: Entry, patients: dict[str, Subject]) -> Subject | None:
    subject = getattr(entry.resource, "subject", None)
    if subject is None:
        return None
    if subject.reference:
        ref = subject.reference.split("/_history/", 1)[0]
        tail = re.search(r"Patient/[^/]+$", ref)
        found = patients.get(ref) or (patients.get(tail.group(0)) if tail else None)
        if found:
            return found
    if subject.identifier and subject.identifier.system == NHS_NUMBER_SYSTEM:
        nhs_number([subject.identifier], f"{entry.path}.subject.identifier")
        return Subject(identity=Identity(nhs_number=subject.identifier.value))
    return None


def _message_id(root: Any, entries: list[Entry]) -> str:
    if root.get_resource_type() == "Bundle":
        value = (root.identifier.value if root.identifier else None) or root.id
        where = "Bundle.identifier.value or Bundle.id"
    else:
        value = entries[0].key if root.id else None  # a root resource has no fullUrl
        if value and root.meta and root.meta.versionId:
            value = f"{value}/_history/{root.meta.versionId}"
        where = f"{root.get_resource_type()}.id"
    if not value or len(value) > 200:
        raise refuse(RejectReason.SCHEMA_VIOLATION, where, "a message id of 1 to 200 characters")
    if "@" in value and root.get_resource_type() != "Bundle":
        problem = "looks like an NHS number; send the resource in a Bundle with an identifier"
        raise refuse(RejectReason.SCHEMA_VIOLATION, where, problem)
    return str(value)


def _source_system(root: Any, headers: Mapping[str, str]) -> str:
    declared = (root.meta.source if root.meta else None) or next(
        (v for k, v in headers.items() if k.lower() == "asbx-source-system"), ""
    )
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", re.sub(r"^[A-Za-z][A-Za-z0-9+.-]*:(//)?", "", declared))
    return slug.strip("-.")[:80] or DEFAULT_SOURCE_SYSTEM


def read_message(root: Any, syntax: str, headers: Mapping[str, str]) -> HealthMessage:
    """Apply the health profile to a validated FHIR resource."""
    if root.get_resource_type() == "Bundle":
        if root.type not in BUNDLE_TYPES:
            raise refuse(
                RejectReason.SCHEMA_VIOLATION,
                "Bundle.type",
                f"must be one of {', '.join(sorted(BUNDLE_TYPES))}",
            )
        entries = [
            Entry(f"Bundle.entry[{i}].resource", e.resource, e.fullUrl)
            for i, e in enumerate(root.entry or ())
            if e.resource is not None
        ]
    else:
        entries = [Entry(root.get_resource_type(), root)]
    patients: dict[str, Subject] = {}
    for entry in (e for e in entries if e.type == "Patient"):
        patient = patient_subject(entry.resource, entry.path, entry.key)
        for ref in (entry.full_url, entry.reference):
            if ref:
                patients[ref] = patient
    facts = []
    for entry in (e for e in entries if e.type in _FACT_TYPES):
        subject = _resolve(entry, patients)
        if subject is None and entry.type in _NEEDS_SUBJECT:
            raise refuse(
                RejectReason.SCHEMA_VIOLATION,
                f"{entry.path}.subject",
                "must reference a Patient in the Bundle or carry an NHS number identifier",
            )
        facts.append(Entry(entry.path, entry.resource, entry.full_url, subject))
    return HealthMessage(
        message_id=_message_id(root, entries),
        source_system=_source_system(root, headers),
        syntax=syntax,
        facts=tuple(facts),
        patients=tuple(e for e in entries if e.type == "Patient"),
    )
