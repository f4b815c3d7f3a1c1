"""Housing format: every example maps to the right canonical facts; bad input is refused."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from contracts.envelope import CanonicalEvent
from contracts.events import AsbIncidentReported, InterventionIssued, TenancyEvent
from contracts.vocab import (
    AsbCategory,
    Audience,
    InterventionType,
    Partner,
    PersonRole,
    RejectReason,
    TenancyEventType,
    TokenKind,
)
from services.normalise.context import MappingContext
from services.normalise.port import MappingResult, Refusal
from services.partners.housing.adapter import HousingAdapter
from services.partners.housing.format import SCHEMA_PATH, generate_schema
from services.partners.housing.mapping import ref_token
from services.protection.keys import LocalKeyStore
from services.protection.sealing import NotPermittedError, Opener
from services.protection.tokens import Tokeniser
from services.sharing.agreements import load
from tests.partners.privacy import leaks, personal_values

EXAMPLES = Path(__file__).resolve().parents[2] / "services/partners/housing/examples"
GOOD = sorted(EXAMPLES.glob("*.json"))
ADAPTER = HousingAdapter()

#: Keys whose values are personal or partner references: none may appear in clear downstream.
PERSONAL_KEYS = {
    "person_ref", "given_name", "family_name", "date_of_birth", "phone", "email",
    "organisation_name", "address_lines", "postcode", "uprn", "narrative", "conditions",
    "tenancy_ref", "case_ref", "report_ref", "action_ref", "related_report_refs",
    "police_incident_ref", "message_id",
}  # fmt: skip
SCENARIO_PLAINTEXT = [
    "Bethany Marsh", "Craig Holden", "Jordan Pike", "Tyler Voss", "Irene Cole", "Samir Haddad",
    "Bethany", "Craig", "Jordan", "Tyler", "Irene", "Samir", "Marsh", "Holden", "Pike", "Voss",
    "Cole", "Haddad", "1989-04-17", "1986-11-02", "1998-02-03", "2000-09-12", "07700 900461",
    "07700900461", "HP-004512", "HP-004513", "HP-003310", "HP-003377", "TEN-88231",
    "100023456789", "MB4 7QT", "MB47QT", "Larkspur", "Tannery Lane", "Millbrook",
]  # fmt: skip


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> LocalKeyStore:
    return LocalKeyStore(tmp_path_factory.mktemp("keys"))


def context(raw: bytes, message_id: str, source: str, keys: LocalKeyStore) -> MappingContext:
    return MappingContext(
        partner=Partner.HOUSING,
        source_system=source,
        message_id=message_id,
        message_digest=hashlib.sha256(raw).hexdigest(),
        recorded_at=datetime(2026, 7, 1, tzinfo=UTC),
        agreement=load().for_partner(Partner.HOUSING),
        tokeniser=Tokeniser(keys),
        keys=keys,
    )


def run_raw(raw: bytes, keys: LocalKeyStore) -> tuple[MappingResult, MappingContext]:
    parsed = ADAPTER.parse(raw, {"content-type": "application/json"})
    ctx = context(raw, parsed.message_id, parsed.source_system, keys)
    return ADAPTER.to_canonical(parsed, ctx), ctx


def run(name: str, keys: LocalKeyStore) -> tuple[MappingResult, MappingContext]:
    return run_raw((EXAMPLES / name).read_bytes(), keys)


def doc(name: str) -> dict[str, Any]:
    return copy.deepcopy(json.loads((EXAMPLES / name).read_text()))


def refuse(document: Any) -> Refusal:
    raw = document if isinstance(document, bytes) else json.dumps(document).encode()
    with pytest.raises(Refusal) as caught:
        ADAPTER.parse(raw, {})
    return caught.value


def test_every_example_maps_deterministically(keys: LocalKeyStore) -> None:
    """Each example gives events whose ids are stable across runs and unique across messages."""
    ids: list[str] = []
    for path in GOOD:
        first, _ = run(path.name, keys)
        again, _ = run(path.name, keys)
        assert first.events, path.name
        assert [e.id for e in first.events] == [e.id for e in again.events]
        assert all(e.partner is Partner.HOUSING for e in first.events)
        ids += [e.id for e in first.events]
    assert len(ids) == len(set(ids))


def test_tenancy_started(keys: LocalKeyStore) -> None:
    """Bethany's tenancy start becomes a TenancyEvent keyed by her housing person ref."""
    result, ctx = run("01-tenancy-1-started.json", keys)
    (event,) = result.events
    data = event.data
    assert isinstance(data, TenancyEvent)
    assert data.event is TenancyEventType.TENANCY_STARTED
    assert data.effective_on == date(2021, 6, 1)
    assert data.tenure_type == "assured"
    assert data.tenancy_ref == ctx.token(TokenKind.TENANCY_REF, "TEN-88231")
    assert data.property.uprn == ctx.token(TokenKind.UPRN, "100023456789")
    assert data.property.postcode_district == "MB4"
    assert event.subject == ctx.token(TokenKind.HOUSING_PERSON_REF, "HP-004512")
    assert event.occurred_at == datetime(2021, 5, 31, 23, 0, tzinfo=UTC)  # midnight BST


def test_occupant_added(keys: LocalKeyStore) -> None:
    """Craig joining the household is an occupant_added event on the same tenancy."""
    result, ctx = run("01-tenancy-2-occupant-added.json", keys)
    data = result.events[0].data
    assert isinstance(data, TenancyEvent)
    assert data.event is TenancyEventType.OCCUPANT_ADDED
    assert data.effective_on == date(2025, 11, 10)
    assert data.tenancy_ref == ctx.token(TokenKind.TENANCY_REF, "TEN-88231")
    assert data.people[0].subject == ctx.token(TokenKind.HOUSING_PERSON_REF, "HP-004513")


def test_case_report(keys: LocalKeyStore) -> None:
    """A complaint maps roles, category, times and flags; the narrative is sealed."""
    result, ctx = run("03-asb-case-report.json", keys)
    (event,) = result.events
    data = event.data
    assert isinstance(data, AsbIncidentReported)
    assert data.reporting_agency is Partner.HOUSING
    assert data.category is AsbCategory.PERSONAL
    assert data.classification == "ASB-PERSONAL/verbal_abuse_harassment_intimidation"
    assert not data.hate_motivated
    assert data.occurred_at == datetime(2026, 3, 8, 21, 0, tzinfo=UTC)
    assert data.reported_at == datetime(2026, 3, 10, 10, 30, tzinfo=UTC)
    assert [p.role for p in data.people] == [
        PersonRole.VICTIM,
        PersonRole.ALLEGED_PERPETRATOR,
        PersonRole.ALLEGED_PERPETRATOR,
        PersonRole.WITNESS,
    ]
    assert event.subject == data.people[0].subject
    assert event.subject == ctx.token(TokenKind.HOUSING_PERSON_REF, "HP-004512")
    assert data.incident_ref == ref_token(
        ctx, TokenKind.INCIDENT_REF, "housing", "report", "ASB-2026-0042-R01"
    )
    assert data.location is not None
    assert data.location.uprn == ctx.token(TokenKind.UPRN, "100023456789")
    assert data.narrative is not None
    assert data.narrative.data_class == "narrative"
    opened = Opener(keys, Audience.HOUSING).open(data.narrative, event.id)
    assert opened == doc("03-asb-case-report.json")["narrative"]
    with pytest.raises(NotPermittedError):
        Opener(keys, Audience.HEALTH).open(data.narrative, event.id)
    kinds = {k.kind for k in event.correlation_keys}
    assert {TokenKind.CASE_REF, TokenKind.INCIDENT_REF, TokenKind.UPRN, TokenKind.NAME_DOB} <= kinds


def test_same_incident_reported_to_housing_keeps_its_time(keys: LocalKeyStore) -> None:
    """Report 06 is the 1 April incident police also hold: same occurred time, same victim."""
    result, _ = run("06-asb-case-report.json", keys)
    data = result.events[0].data
    assert isinstance(data, AsbIncidentReported)
    assert data.occurred_at == datetime(2026, 4, 1, 21, 30, tzinfo=UTC)
    assert data.people[0].role is PersonRole.VICTIM
    assert data.victim_risk is None


def test_warning_letters(keys: LocalKeyStore) -> None:
    """Two warning letters are two interventions, each bound to its person and report."""
    result, ctx = run("04-asb-action-warning-letters.json", keys)
    assert len(result.events) == 2
    report = ref_token(ctx, TokenKind.INCIDENT_REF, "housing", "report", "ASB-2026-0042-R01")
    subjects = set()
    for event in result.events:
        data = event.data
        assert isinstance(data, InterventionIssued)
        assert data.intervention is InterventionType.WARNING_LETTER
        assert data.issuing_agency is Partner.HOUSING
        assert data.issued_on == date(2026, 3, 20)
        assert data.expires_on is None
        assert data.subject is not None
        assert data.subject.role is PersonRole.ALLEGED_PERPETRATOR
        assert data.related_incidents == (report,)
        assert data.conditions is not None
        assert data.conditions.data_class == "intervention_conditions"
        assert event.subject == data.subject.subject
        subjects.add(event.subject)
    assert len(subjects) == 2


def test_contract_with_duration_gets_an_expiry(keys: LocalKeyStore) -> None:
    """A six-month ABC expires six calendar months after it takes effect."""
    message = doc("04-asb-action-warning-letters.json")
    action = message["actions"][0]
    action.update(
        action_type="acceptable_behaviour_contract", duration={"value": 6, "unit": "months"}
    )
    result, _ = run_raw(json.dumps(message).encode(), keys)
    data = result.events[0].data
    assert isinstance(data, InterventionIssued)
    assert data.intervention is InterventionType.ACCEPTABLE_BEHAVIOUR_CONTRACT
    assert data.expires_on == date(2026, 9, 20)
    assert data.duration_days == 184


def test_hate_strand_is_dropped(keys: LocalKeyStore) -> None:
    """Hate motivation is kept as a flag; the strand never leaves the edge."""
    message = doc("03-asb-case-report.json")
    message.update(hate_incident=True, hate_strand="disability")
    result, _ = run_raw(json.dumps(message).encode(), keys)
    data = result.events[0].data
    assert isinstance(data, AsbIncidentReported)
    assert data.hate_motivated
    assert [d.fact_key for d in result.dropped] == ["hate_strand"]
    assert "disability" not in result.events[0].model_dump_json()


def test_police_reference_becomes_a_shared_key(keys: LocalKeyStore) -> None:
    """A housing report quoting a police incident ref carries the police incident's key."""
    message = doc("06-asb-case-report.json")
    message["police_incident_ref"] = "MSP-INC-2026-006102"
    result, ctx = run_raw(json.dumps(message).encode(), keys)
    police = ref_token(ctx, TokenKind.INCIDENT_REF, "police", "incident", "MSP-INC-2026-006102")
    assert police in {k.token for k in result.events[0].correlation_keys}


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("not-json.json", RejectReason.NOT_PARSEABLE),
        ("missing-required-field.json", RejectReason.SCHEMA_VIOLATION),
        ("bad-uprn.json", RejectReason.INVALID_UPRN),
        ("bad-postcode.json", RejectReason.INVALID_POSTCODE),
    ],
)
def test_bad_examples_are_refused_without_echoing_values(name: str, reason: RejectReason) -> None:
    """Each bad example is refused with its reason; the text repeats no personal value."""
    raw = (EXAMPLES / "bad" / name).read_bytes()
    refusal = refuse(raw)
    assert refusal.reason is reason
    text = refusal.message + json.dumps([e.model_dump() for e in refusal.errors])
    secrets = set(SCENARIO_PLAINTEXT) | {"1000234567890", "MB4 7Q"}
    assert leaks(text, secrets) == []
    if reason is not RejectReason.NOT_PARSEABLE:
        assert refusal.errors
        assert refusal.errors[0].location != "(message)"


def test_missing_field_names_its_location() -> None:
    """A schema violation says where, so the partner can fix it."""
    refusal = refuse((EXAMPLES / "bad" / "missing-required-field.json").read_bytes())
    assert [e.location for e in refusal.errors] == ["asb_case_report.occurred_from"]


@pytest.mark.parametrize(
    ("change", "location"),
    [
        ({"hate_incident": "yes"}, "asb_case_report.hate_incident"),
        ({"occurred_from": "2026-03-08T21:00:00"}, "asb_case_report.occurred_from"),
        ({"occurred_from": 1772996400}, "asb_case_report.occurred_from"),
        ({"reported_at": "2026-03-01T10:00:00Z"}, "asb_case_report"),
        ({"category": "Bethany Marsh"}, "asb_case_report.category"),
        ({"shoe_size": 9}, "asb_case_report.shoe_size"),
        ({"victims": [], "complainants": []}, "asb_case_report"),
    ],
)
def test_schema_violations(change: dict[str, Any], location: str) -> None:
    """Loose types, naive or numeric times, bad order and unknown fields are refused."""
    message = doc("03-asb-case-report.json")
    message.update(change)
    refusal = refuse(message)
    assert refusal.reason is RejectReason.SCHEMA_VIOLATION
    assert location in [e.location for e in refusal.errors]
    assert leaks(refusal.message + str(refusal.errors), ["Bethany Marsh"]) == []


def test_unknown_message_type_is_not_echoed() -> None:
    """Even the message type a partner sent is not quoted back (it might be anything)."""
    message = doc("03-asb-case-report.json")
    message["message_type"] = "Bethany Marsh"
    refusal = refuse(message)
    assert refusal.reason is RejectReason.SCHEMA_VIOLATION
    assert "Bethany" not in refusal.message + str(refusal.errors)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff\xfe\x00garbage", RejectReason.NOT_PARSEABLE),
        (b"[" * 100_000 + b"]" * 100_000, RejectReason.HOSTILE_CONTENT),
        (b"[1, 2]", RejectReason.SCHEMA_VIOLATION),
    ],
)
def test_undecodable_input(raw: bytes, reason: RejectReason) -> None:
    """Bytes that are not a JSON object are refused with a precise reason."""
    assert refuse(raw).reason is reason


def test_declared_non_json_content_type_is_refused() -> None:
    """A message labelled as something other than JSON is refused before decoding."""
    raw = (EXAMPLES / "03-asb-case-report.json").read_bytes()
    with pytest.raises(Refusal) as caught:
        ADAPTER.parse(raw, {"Content-Type": "text/csv"})
    assert caught.value.reason is RejectReason.UNSUPPORTED_CONTENT_TYPE


def test_schema_file_is_up_to_date() -> None:
    """The published JSON Schema equals what the models generate."""
    assert json.loads(SCHEMA_PATH.read_text()) == generate_schema()
    assert generate_schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_canary_detector_finds_plaintext() -> None:
    """The leak check itself works: it finds the scenario's values in a partner message."""
    raw = (EXAMPLES / "03-asb-case-report.json").read_text()
    assert set(leaks(raw, ["Marsh", "HP-004512", "100023456789", "MB4 7QT"])) == {
        "Marsh", "HP-004512", "100023456789", "MB4 7QT"
    }  # fmt: skip
    assert leaks("uprn:abcPike_x", ["Pike"]) == []


def test_canary_no_plaintext_in_canonical_events(keys: LocalKeyStore) -> None:
    """No name, birth date, phone, address, narrative or partner ref appears in clear."""
    dumped: list[str] = []
    secrets: set[str] = set(SCENARIO_PLAINTEXT)
    for path in GOOD:
        secrets |= personal_values(json.loads(path.read_text()), PERSONAL_KEYS)
        result, _ = run(path.name, keys)
        assert all(isinstance(e, CanonicalEvent) for e in result.events)
        dumped += [e.model_dump_json() for e in result.events]
        dumped += [repr(d) for d in result.dropped]
    text = "\n".join(dumped)
    assert len(secrets) > 40
    assert leaks(text, secrets) == []
