"""Police POLE format: incidents and powers map to canonical facts; objects are dropped."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from contracts.envelope import CanonicalEvent
from contracts.events import AsbIncidentReported, InterventionIssued
from contracts.vocab import (
    AsbCategory,
    Audience,
    InterventionType,
    Partner,
    PersonRole,
    RejectReason,
    RiskLevel,
    TokenKind,
)
from services.normalise.context import MappingContext
from services.normalise.port import MappingResult, Refusal
from services.partners.police.adapter import PoliceAdapter
from services.partners.police.format import SCHEMA_PATH, generate_schema
from services.partners.police.mapping import ref_token
from services.protection.keys import LocalKeyStore
from services.protection.sealing import NotPermittedError, Opener
from services.protection.tokens import Tokeniser
from services.sharing.agreements import load
from tests.partners.privacy import leaks, personal_values

EXAMPLES = Path(__file__).resolve().parents[2] / "services/partners/police/examples"
GOOD = sorted(EXAMPLES.glob("*.json"))
ADAPTER = PoliceAdapter()
INCIDENT, INTERVENTION = "asb_incident_reported", "intervention_issued"
EXPECTED_KINDS = {
    "02-incident-noise-drugs.json": [INCIDENT],
    "05-incident-threats.json": [INCIDENT],
    "07-incident-stairwell.json": [INCIDENT],
    "08-incident-visitors-back.json": [INCIDENT],
    "09-cpw-issued.json": [INTERVENTION, INTERVENTION],
    "10-incident-breach-under-cpw.json": [INCIDENT],
    "11-incident-other-address.json": [INCIDENT],
    "12-closure-notice.json": [INTERVENTION],
    "13-closure-order.json": [INTERVENTION],
    "14-cpn-issued.json": [INTERVENTION],
}
PERSONAL_KEYS = {
    "police_person_id", "given_name", "family_name", "date_of_birth", "phone", "email",
    "organisation_name", "address_lines", "postcode", "uprn", "narrative", "conditions",
    "detail", "description", "registration", "incident_ref", "action_ref",
    "related_incident_refs", "message_id",
}  # fmt: skip
SCENARIO_PLAINTEXT = [
    "Bethany Marsh", "Jordan Pike", "Tyler Voss", "Irene Cole", "Samir Haddad", "Dawn Fletcher",
    "Bethany", "Jordan", "Tyler", "Irene", "Samir", "Marsh", "Pike", "Voss", "Cole", "Haddad",
    "1989-04-17", "1998-02-03", "2000-09-12", "07700 900461", "PP-77120", "PP-80311",
    "PP-80422", "100023456789", "100023460001", "MB4 7QT", "MB4 6RD", "Larkspur",
    "Tannery Lane", "Cooper Street", "MB19 XKD", "hatchback",
]  # fmt: skip


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> LocalKeyStore:
    return LocalKeyStore(tmp_path_factory.mktemp("keys"))


def run_raw(raw: bytes, keys: LocalKeyStore) -> tuple[MappingResult, MappingContext]:
    parsed = ADAPTER.parse(raw, {"content-type": "application/json"})
    ctx = MappingContext(
        partner=Partner.POLICE,
        source_system=parsed.source_system,
        message_id=parsed.message_id,
        message_digest=hashlib.sha256(raw).hexdigest(),
        recorded_at=datetime(2026, 7, 1, tzinfo=UTC),
        agreement=load().for_partner(Partner.POLICE),
        tokeniser=Tokeniser(keys),
        keys=keys,
    )
    return ADAPTER.to_canonical(parsed, ctx), ctx


def run(name: str, keys: LocalKeyStore) -> tuple[MappingResult, MappingContext]:
    return run_raw((EXAMPLES / name).read_bytes(), keys)


def incident(name: str, keys: LocalKeyStore) -> tuple[CanonicalEvent, AsbIncidentReported]:
    result, _ = run(name, keys)
    event = result.events[0]
    assert isinstance(event.data, AsbIncidentReported)
    return event, event.data


def doc(name: str) -> dict[str, Any]:
    return copy.deepcopy(json.loads((EXAMPLES / name).read_text()))


def refuse(document: Any) -> Refusal:
    raw = document if isinstance(document, bytes) else json.dumps(document).encode()
    with pytest.raises(Refusal) as caught:
        ADAPTER.parse(raw, {})
    return caught.value


def police_id(ctx: MappingContext, value: str) -> str:
    return ctx.token(TokenKind.POLICE_PERSON_ID, value)


@pytest.mark.parametrize("name", sorted(EXPECTED_KINDS))
def test_example_maps_to_expected_kinds(name: str, keys: LocalKeyStore) -> None:
    """Each example yields the canonical event kinds listed for it, with stable ids."""
    result, _ = run(name, keys)
    again, _ = run(name, keys)
    assert [e.data.kind for e in result.events] == EXPECTED_KINDS[name]
    assert [e.id for e in result.events] == [e.id for e in again.events]
    assert all(e.partner is Partner.POLICE for e in result.events)


def test_every_example_is_listed() -> None:
    """No example escapes the table above."""
    assert {p.name for p in GOOD} == set(EXPECTED_KINDS)


def test_neighbour_complaint_and_dropped_object(keys: LocalKeyStore) -> None:
    """Irene's nuisance complaint: victim first, two suspects; the vehicle is dropped."""
    result, ctx = run("02-incident-noise-drugs.json", keys)
    data = result.events[0].data
    assert isinstance(data, AsbIncidentReported)
    assert data.category is AsbCategory.NUISANCE
    assert data.classification == "ASB-NUISANCE"
    assert [p.role for p in data.people] == [
        PersonRole.VICTIM,
        PersonRole.ALLEGED_PERPETRATOR,
        PersonRole.ALLEGED_PERPETRATOR,
    ]
    assert result.events[0].subject == police_id(ctx, "PP-81005")
    assert data.occurred_at == datetime(2026, 3, 2, 23, 40, tzinfo=UTC)
    assert data.reported_at == datetime(2026, 3, 3, 0, 15, tzinfo=UTC)
    assert data.victim_risk is RiskLevel.STANDARD
    assert [d.fact_key for d in result.dropped] == ["object:O1"]
    assert "vehicle" not in result.events[0].model_dump_json()


def test_high_risk_victim(keys: LocalKeyStore) -> None:
    """Bethany's report carries a high risk level; the reasoning is sealed as risk detail."""
    result, ctx = run("05-incident-threats.json", keys)
    data = result.events[0].data
    assert isinstance(data, AsbIncidentReported)
    assert data.category is AsbCategory.PERSONAL
    assert data.victim_risk is RiskLevel.HIGH
    assert data.people[0].risk is RiskLevel.HIGH
    assert data.people[0].subject == police_id(ctx, "PP-77120")
    assert data.occurred_at == datetime(2026, 4, 1, 21, 30, tzinfo=UTC)
    assert result.dropped == []
    assert data.victim_risk_detail is not None
    assert data.victim_risk_detail.data_class == "risk_detail"
    with pytest.raises(NotPermittedError):  # risk reasoning is for police and lead agency only
        Opener(keys, Audience.HOUSING).open(data.victim_risk_detail, result.events[0].id)
    assert data.narrative is not None
    assert (
        Opener(keys, Audience.LEAD_AGENCY).open(data.narrative, result.events[0].id)
        == doc("05-incident-threats.json")["event"]["narrative"]
    )
    with pytest.raises(NotPermittedError):  # the police agreement keeps narrative from housing
        Opener(keys, Audience.HOUSING).open(data.narrative, result.events[0].id)


def test_address_without_uprn_is_keyed_by_address(keys: LocalKeyStore) -> None:
    """The stairwell has no UPRN: the place is joined on its normalised-address token."""
    event, data = incident("07-incident-stairwell.json", keys)
    assert data.location is not None
    assert data.location.uprn is None
    assert data.location.address is not None
    assert data.location.postcode_district == "MB4"
    assert TokenKind.ADDRESS in {k.kind for k in event.correlation_keys}


def test_cpws_name_the_incidents_and_bind_the_suspects(keys: LocalKeyStore) -> None:
    """Each CPW binds one person and links the incidents it was issued over."""
    result, ctx = run("09-cpw-issued.json", keys)
    refs = ("MSP-INC-2026-004417", "MSP-INC-2026-006102", "MSP-INC-2026-010233")
    linked = tuple(ref_token(ctx, TokenKind.INCIDENT_REF, "police", "incident", r) for r in refs)
    reported = [incident(n, keys)[1].incident_ref for n in ("02-incident-noise-drugs.json",
                "05-incident-threats.json", "08-incident-visitors-back.json")]  # fmt: skip
    assert list(linked) == reported
    subjects = []
    for event in result.events:
        data = event.data
        assert isinstance(data, InterventionIssued)
        assert data.intervention is InterventionType.COMMUNITY_PROTECTION_WARNING
        assert data.issued_on == date(2026, 5, 25)
        assert data.related_incidents == linked
        assert data.subject is not None
        assert data.subject.role is PersonRole.ALLEGED_PERPETRATOR
        assert data.premises is None
        subjects.append(event.subject)
    assert subjects == [police_id(ctx, "PP-80311"), police_id(ctx, "PP-80422")]


def test_suspect_under_cpw_reappears(keys: LocalKeyStore) -> None:
    """Jordan in the 9 June incident has the same subject token as on his CPW."""
    cpw, _ = run("09-cpw-issued.json", keys)
    _, data = incident("10-incident-breach-under-cpw.json", keys)
    suspects = [p.subject for p in data.people if p.role is PersonRole.ALLEGED_PERPETRATOR]
    assert suspects == [cpw.events[0].subject]
    assert data.occurred_at == datetime(2026, 6, 9, 22, 15, tzinfo=UTC)


def test_suspect_at_another_address(keys: LocalKeyStore) -> None:
    """Tyler at Cooper Street: a different UPRN from Flat 4, and the same person token."""
    cpw, ctx = run("09-cpw-issued.json", keys)
    _, data = incident("11-incident-other-address.json", keys)
    assert data.location is not None
    assert data.location.uprn == ctx.token(TokenKind.UPRN, "100023460001")
    assert data.location.uprn != ctx.token(TokenKind.UPRN, "100023456789")
    assert data.people[1].subject == cpw.events[1].subject


@pytest.mark.parametrize(
    ("name", "kind", "expires", "days"),
    [
        ("12-closure-notice.json", InterventionType.CLOSURE_NOTICE, date(2026, 6, 20), 2),
        ("13-closure-order.json", InterventionType.CLOSURE_ORDER, date(2026, 9, 20), 92),
    ],
)
def test_closure_powers_bind_the_premises(
    name: str, kind: InterventionType, expires: date, days: int, keys: LocalKeyStore
) -> None:
    """Closure notice (48 h) and order (3 months) are keyed by the premises' UPRN token."""
    result, ctx = run(name, keys)
    (event,) = result.events
    data = event.data
    assert isinstance(data, InterventionIssued)
    assert data.intervention is kind
    assert data.subject is None
    assert data.premises is not None
    assert event.subject == ctx.token(TokenKind.UPRN, "100023456789")
    assert data.expires_on == expires
    assert data.duration_days == days


def test_cpn_after_cpw(keys: LocalKeyStore) -> None:
    """The CPN binds Jordan for twelve months from 25 June."""
    result, ctx = run("14-cpn-issued.json", keys)
    data = result.events[0].data
    assert isinstance(data, InterventionIssued)
    assert data.intervention is InterventionType.COMMUNITY_PROTECTION_NOTICE
    assert result.events[0].subject == police_id(ctx, "PP-80311")
    assert data.expires_on == date(2027, 6, 25)


def test_incident_without_victim_is_keyed_by_location(keys: LocalKeyStore) -> None:
    """With only a witness, the incident's subject is the location token."""
    message = doc("07-incident-stairwell.json")
    message["persons"][0]["role"] = "witness"
    del message["persons"][0]["risk_assessment"]
    result, _ = run_raw(json.dumps(message).encode(), keys)
    data = result.events[0].data
    assert isinstance(data, AsbIncidentReported)
    assert data.location is not None
    assert result.events[0].subject == data.location.address
    assert data.victim_risk is None


def test_incident_with_actions_links_them(keys: LocalKeyStore) -> None:
    """One message: an incident and a CPW issued at the scene, linked to that incident."""
    message = doc("10-incident-breach-under-cpw.json")
    message["actions"] = [
        {"id": "A1", "action_ref": "MSP-CPW-2026-0200", "action_type": "CPW",
         "issued_at": "2026-06-10T09:50:00+01:00", "person_id": "P2"}
    ]  # fmt: skip
    result, _ = run_raw(json.dumps(message).encode(), keys)
    assert [e.data.kind for e in result.events] == [INCIDENT, INTERVENTION]
    first, second = (e.data for e in result.events)
    assert isinstance(first, AsbIncidentReported)
    assert isinstance(second, InterventionIssued)
    assert second.related_incidents == (first.incident_ref,)


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
    refusal = refuse((EXAMPLES / "bad" / name).read_bytes())
    assert refusal.reason is reason
    text = refusal.message + json.dumps([e.model_dump() for e in refusal.errors])
    assert leaks(text, set(SCENARIO_PLAINTEXT) | {"10002345678X", "MB4 6R"}) == []


def _retarget(message: dict[str, Any]) -> None:
    message["actions"][0]["person_id"] = "P9"


def _closure_on_person(message: dict[str, Any]) -> None:
    message["actions"][0]["action_type"] = "CLOSURE_NOTICE"


def _role_without_event(message: dict[str, Any]) -> None:
    message["persons"][0]["role"] = "suspect"


def _unlinked_person(message: dict[str, Any]) -> None:
    message["persons"].append({"id": "P3", "police_person_id": "PP-99999"})


def _both_duration_and_expiry(message: dict[str, Any]) -> None:
    message["actions"][0].update(duration={"value": 1, "unit": "days"}, expires_on="2026-06-01")


@pytest.mark.parametrize(
    "change",
    [
        _retarget,
        _closure_on_person,
        _role_without_event,
        _unlinked_person,
        _both_duration_and_expiry,
    ],
)
def test_incoherent_messages_are_refused(change: Any) -> None:
    """Broken POLE links and mismatched targets are schema violations, values unquoted."""
    message = doc("09-cpw-issued.json")
    change(message)
    refusal = refuse(message)
    assert refusal.reason is RejectReason.SCHEMA_VIOLATION
    assert leaks(refusal.message + str(refusal.errors), SCENARIO_PLAINTEXT) == []


def test_loose_types_are_refused() -> None:
    """Strings are not booleans and bare numbers are not times."""
    message = doc("05-incident-threats.json")
    message["event"].update(hate_flag="false", occurred_from=1775079000)
    refusal = refuse(message)
    assert {e.location for e in refusal.errors} == {"event.hate_flag", "event.occurred_from"}


def test_schema_file_is_up_to_date() -> None:
    """The published JSON Schema equals what the models generate."""
    assert json.loads(SCHEMA_PATH.read_text()) == generate_schema()


def test_canary_no_plaintext_in_canonical_events(keys: LocalKeyStore) -> None:
    """No name, birth date, phone, address, narrative, object or ref appears in clear."""
    dumped: list[str] = []
    secrets: set[str] = set(SCENARIO_PLAINTEXT)
    for path in GOOD:
        secrets |= personal_values(json.loads(path.read_text()), PERSONAL_KEYS)
        result, _ = run(path.name, keys)
        dumped += [e.model_dump_json() for e in result.events]
        dumped += [repr(d) for d in result.dropped]
    assert len(secrets) > 60
    assert leaks("\n".join(dumped), secrets) == []
    assert leaks((EXAMPLES / "02-incident-noise-drugs.json").read_text(), ["MB19 XKD"])
