"""Health message refusals: each bad input gets its reason, and no refusal repeats personal data.

``HealthAdapter.parse`` alone; nothing here needs keys.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from contracts.vocab import RejectReason
from services.normalise.port import Refusal
from services.partners.health.adapter import HealthAdapter
from services.partners.health.format import MAX_DEPTH, syntax_of

EXAMPLES = Path(__file__).resolve().parents[2] / "services" / "partners" / "health" / "examples"
PERSONAL = ("Bethany", "Marsh", "9434765", "07700", "Larkspur", "MB4", "1989", "100023456789")
FHIR_XML = {"content-type": "application/fhir+xml"}
FHIR_JSON = {"content-type": "application/fhir+json; charset=utf-8"}


def refused(raw: bytes, headers: dict[str, str] | None = None) -> Refusal:
    with pytest.raises(Refusal) as caught:
        HealthAdapter().parse(raw, headers or {})
    refusal = caught.value
    said = refusal.message + " ".join(f"{e.location} {e.problem}" for e in refusal.errors)
    assert [p for p in PERSONAL if p in said] == []
    return refusal


def flag_bundle() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(
        (EXAMPLES / "01-bethany-learning-disability-flag.json").read_bytes()
    )
    return doc


def as_json(doc: Any) -> bytes:
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    ("raw", "headers", "expected"),
    [
        (b'{"resourceType": "Patient"}', {}, "json"),
        (b'\xef\xbb\xbf  \n<Patient xmlns="http://hl7.org/fhir"/>', {}, "xml"),
        (b"<x/>", FHIR_JSON, "json"),
        (b"{}", {"Content-Type": "application/fhir+xml"}, "xml"),
        (b"{}", {"content-type": "application/octet-stream"}, "json"),
    ],
)
def test_syntax_from_content_type_else_sniffed(
    raw: bytes, headers: dict[str, str], expected: str
) -> None:
    assert syntax_of(raw, headers) == expected


@pytest.mark.parametrize(
    ("raw", "headers"),
    [
        (b"hello, this is not FHIR", {}),
        (b'{"resourceType": "Bundle", ', FHIR_JSON),
        (b'{"resourceType": "Bundle", "total": NaN}', FHIR_JSON),
        (b"\xff\xfe{}", FHIR_JSON),
        (b"<Bundle><unclosed></Bundle>", FHIR_XML),
    ],
)
def test_not_json_or_xml_is_not_parseable(raw: bytes, headers: dict[str, str]) -> None:
    assert refused(raw, headers).reason is RejectReason.NOT_PARSEABLE


def test_other_content_types_are_unsupported() -> None:
    refusal = refused(b"{}", {"content-type": "text/csv"})
    assert refusal.reason is RejectReason.UNSUPPORTED_CONTENT_TYPE


def test_invalid_fhir_is_a_schema_violation_with_locations() -> None:
    doc = flag_bundle()
    doc["entry"][0]["resource"]["birthDate"] = "1989-17-04"
    del doc["entry"][1]["resource"]["code"]
    refusal = refused(as_json(doc))
    assert refusal.reason is RejectReason.SCHEMA_VIOLATION
    assert {e.location for e in refusal.errors} == {
        "entry[0].resource.birthDate",
        "entry[1].resource.code",
    }


@pytest.mark.parametrize(
    ("doc", "problem"),
    [
        ({**flag_bundle(), "type": "document"}, "Bundle.type"),
        ({k: v for k, v in flag_bundle().items() if k not in ("id", "identifier")}, "Bundle.id"),
        ([1, 2, 3], "no resourceType"),
    ],
)
def test_profile_rules_are_schema_violations(doc: Any, problem: str) -> None:
    refusal = refused(as_json(doc), FHIR_JSON)
    assert refusal.reason is RejectReason.SCHEMA_VIOLATION
    assert problem in refusal.message


@pytest.mark.parametrize("resource_type", ["Observation", "Medication", "Spaceship"])
def test_unknown_resource_types(resource_type: str) -> None:
    doc = flag_bundle()
    doc["entry"][1]["resource"]["resourceType"] = resource_type
    in_bundle = refused(as_json(doc))
    assert in_bundle.reason is RejectReason.UNKNOWN_RESOURCE_TYPE
    assert "Bundle.entry[1].resource" in in_bundle.message
    alone = refused(as_json(doc["entry"][1]["resource"]))
    assert alone.reason is RejectReason.UNKNOWN_RESOURCE_TYPE


def test_unknown_resource_type_example() -> None:
    refusal = refused((EXAMPLES / "bad" / "unknown-resource-type.json").read_bytes())
    assert refusal.reason is RejectReason.UNKNOWN_RESOURCE_TYPE
    assert "'Observation'" in refusal.message


def test_unknown_xml_resource_and_element() -> None:
    spaceship = b'<Spaceship xmlns="http://hl7.org/fhir"><id value="x"/></Spaceship>'
    assert refused(spaceship, FHIR_XML).reason is RejectReason.UNKNOWN_RESOURCE_TYPE
    wibble = b'<Flag xmlns="http://hl7.org/fhir"><wibble value="1"/></Flag>'
    assert refused(wibble, FHIR_XML).reason is RejectReason.SCHEMA_VIOLATION
    no_namespace = b'<Flag><status value="active"/></Flag>'
    assert refused(no_namespace, FHIR_XML).reason is RejectReason.SCHEMA_VIOLATION


def test_bad_nhs_check_digit_example() -> None:
    refusal = refused((EXAMPLES / "bad" / "bad-nhs-check-digit.json").read_bytes())
    assert refusal.reason is RejectReason.INVALID_NHS_NUMBER
    assert refusal.errors[0].location == "Bundle.entry[0].resource.identifier[0].value"


def test_bad_nhs_number_on_subject_identifier() -> None:
    flag = copy.deepcopy(flag_bundle()["entry"][1]["resource"])
    flag["subject"] = {
        "identifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9434765871"}
    }
    assert refused(as_json(flag)).reason is RejectReason.INVALID_NHS_NUMBER


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("postalCode", "MB4 XXX", RejectReason.INVALID_POSTCODE),
        ("uprn", "1000234567890", RejectReason.INVALID_UPRN),
    ],
)
def test_bad_address_identifiers(field: str, value: str, reason: RejectReason) -> None:
    doc = flag_bundle()
    address = doc["entry"][0]["resource"]["address"][0]
    if field == "uprn":
        address["extension"][0]["extension"][1]["valueString"] = value
    else:
        address[field] = value
    assert refused(as_json(doc)).reason is reason


@pytest.mark.parametrize("name", ["hostile-billion-laughs.xml", "hostile-external-entity.xml"])
def test_hostile_xml_is_refused(name: str) -> None:
    raw = (EXAMPLES / "bad" / name).read_bytes()
    for headers in (FHIR_XML, {}):
        assert refused(raw, headers).reason is RejectReason.HOSTILE_CONTENT


def test_deeply_nested_json_is_hostile_or_unparseable() -> None:
    bomb = b'{"a":' * 200_000
    assert refused(bomb, FHIR_JSON).reason is RejectReason.HOSTILE_CONTENT
    nested: dict[str, Any] = {"resourceType": "Patient"}
    node = nested
    for _ in range(MAX_DEPTH + 5):
        node["extension"] = [{}]
        node = node["extension"][0]
    assert refused(as_json(nested), FHIR_JSON).reason is RejectReason.HOSTILE_CONTENT
    array_bomb = b"[" * 200_000
    assert refused(array_bomb, FHIR_JSON).reason in {
        RejectReason.HOSTILE_CONTENT,
        RejectReason.NOT_PARSEABLE,
    }


def test_deeply_nested_xml_is_hostile() -> None:
    depth = 10_000
    raw = b'<Patient xmlns="http://hl7.org/fhir">' + b"<a>" * depth + b"</a>" * depth
    assert refused(raw + b"</Patient>", FHIR_XML).reason is RejectReason.HOSTILE_CONTENT
