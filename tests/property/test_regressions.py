"""Inputs the property tests and the fuzzer once turned into internal errors, kept as examples."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from contracts.vocab import Partner, RejectReason
from services.normalise.outcome import Accepted, Rejected
from services.normalise.pipeline import Normaliser
from tests.property.harness import check, good_examples, process

NormaliserFor = Callable[[Partner], Normaliser]


def _example(partner: Partner, name: str) -> dict[str, object]:
    raw = dict(good_examples(partner))[name]
    document: dict[str, object] = json.loads(raw)
    return document


def test_fhir_null_given_name_is_read(normaliser_for: NormaliserFor) -> None:
    """A Patient whose ``given`` array holds null (FHIR primitive extensions) is still mapped."""
    bundle = _example(Partner.HEALTH, "03-craig-drug-alcohol-referral.json")
    text = json.dumps(bundle).replace('"given": ["Craig"]', '"given": [null]')
    assert '"given": [null]' in text
    outcome = check(process(normaliser_for(Partner.HEALTH), text.encode()))
    assert isinstance(outcome, Accepted)


def test_dates_before_1900_are_refused(normaliser_for: NormaliserFor) -> None:
    """A tenancy dated in year 221 is refused as a schema violation, not mapped to odd times."""
    message = _example(Partner.HOUSING, "01-tenancy-1-started.json")
    text = json.dumps(message)
    text = text.replace('"effective_date": "2021-06-01"', '"effective_date": "0221-06-01"')
    assert "0221-06-01" in text
    outcome = check(process(normaliser_for(Partner.HOUSING), text.encode()))
    assert isinstance(outcome, Rejected)
    assert outcome.rejection.reason is RejectReason.SCHEMA_VIOLATION


def test_fhir_entry_with_a_list_as_resource_type_is_refused(normaliser_for: NormaliserFor) -> None:
    """A Bundle entry whose resourceType is a JSON array is refused as an unknown type."""
    bundle = _example(Partner.HEALTH, "01-bethany-learning-disability-flag.json")
    entries = bundle["entry"]
    assert isinstance(entries, list)
    entries[1]["resource"]["resourceType"] = []
    outcome = check(process(normaliser_for(Partner.HEALTH), json.dumps(bundle).encode()))
    assert isinstance(outcome, Rejected)
    assert outcome.rejection.reason is RejectReason.UNKNOWN_RESOURCE_TYPE


@pytest.mark.parametrize("encoding", ["utf-16", "utf-3", "ucs-4", "x-unknown"])
def test_fhir_xml_declaring_an_unusable_encoding_is_refused(
    normaliser_for: NormaliserFor, encoding: str
) -> None:
    """An XML declaration naming a multi-byte or unknown encoding is refused as not parseable."""
    raw = dict(good_examples(Partner.HEALTH))["02-bethany-peanut-allergy-flag.xml"]
    declared = raw.replace(b"encoding='utf-8'", f"encoding='{encoding}'".encode(), 1)
    assert declared != raw
    headers = {"content-type": "application/fhir+xml"}
    outcome = check(process(normaliser_for(Partner.HEALTH), declared, headers))
    assert isinstance(outcome, Rejected)
    assert outcome.rejection.reason is RejectReason.NOT_PARSEABLE
