"""Health (FHIR R4 UK Core) mapping: what is published, what is dropped, and that nothing leaks.

Pure and fast: no Kafka. Keys live in a temporary directory per test.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle

from contracts.envelope import CanonicalEvent
from contracts.protected import SealedField
from contracts.vocab import Audience, Partner, RejectReason, TokenKind
from services.normalise.context import MappingContext
from services.normalise.port import MappingResult, Refusal
from services.partners.health.adapter import HealthAdapter
from services.partners.health.mapping import LONDON
from services.protection.keys import LocalKeyStore
from services.protection.sealing import NotPermittedError, Opener
from services.protection.tokens import Tokeniser
from services.sharing.agreements import load

EXAMPLES = Path(__file__).resolve().parents[2] / "services" / "partners" / "health" / "examples"
BETHANY_NHS = "9434765919"
CRAIG_NHS = "9434765870"
RECORDED = datetime(2026, 4, 10, 9, 0, tzinfo=UTC)
TOKEN = re.compile(r"^[a-z_]+:[A-Za-z0-9_-]{43}$")

#: Every personal or health value in the examples: none may appear outside sealed fields/tokens.
CANARIES = (
    "Bethany", "Marsh", "Craig", "Holden", BETHANY_NHS, CRAIG_NHS, "943 476", "07700", "900461",
    "1989-04-17", "1986-11-02", "Flat 4", "Larkspur", "Tannery", "MB4", "7QT", "100023456789",
    "110359009", "Intellectual disability", "Learning disability", "easy read",
    "1188261000000103", "exploitation", "cuckooing", "91935009", "peanut", "adrenaline",
    "417096006", "drug and alcohol", "191816009", "Drug dependence", "390866009",
    "mental health", "Low mood", "anxiety",
)  # fmt: skip


@pytest.fixture
def keys(tmp_path: Path) -> LocalKeyStore:
    return LocalKeyStore(tmp_path / "keys")


@pytest.fixture
def adapter() -> HealthAdapter:
    return HealthAdapter()


def context(keys: LocalKeyStore, message_id: str, source_system: str) -> MappingContext:
    return MappingContext(
        partner=Partner.HEALTH,
        source_system=source_system,
        message_id=message_id,
        message_digest="ab" * 32,
        recorded_at=RECORDED,
        agreement=load().for_partner(Partner.HEALTH),
        tokeniser=Tokeniser(keys),
        keys=keys,
    )


def run(
    adapter: HealthAdapter, keys: LocalKeyStore, raw: bytes, content_type: str = ""
) -> tuple[MappingResult, MappingContext]:
    headers = {"content-type": content_type} if content_type else {}
    parsed = adapter.parse(raw, headers)
    ctx = context(keys, parsed.message_id, parsed.source_system)
    return adapter.to_canonical(parsed, ctx), ctx


def example(name: str) -> bytes:
    return (EXAMPLES / name).read_bytes()


def as_json(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode()


def bundle_doc(name: str) -> dict[str, Any]:
    """An example as a FHIR JSON dict (XML examples go through fhir.resources)."""
    raw = example(name)
    if name.endswith(".json"):
        result: dict[str, Any] = json.loads(raw)
        return result
    return Bundle.model_validate_xml(raw).model_dump(mode="json")


def open_all(value: Any, event_id: str, opener: Opener) -> Any:
    """The event as JSON with every sealed field replaced by its plaintext."""
    if isinstance(value, dict):
        if "ciphertext" in value:
            return opener.open(SealedField.model_validate(value), event_id)
        return {k: open_all(v, event_id, opener) for k, v in value.items()}
    if isinstance(value, list):
        return [open_all(v, event_id, opener) for v in value]
    return value


def opened(event: CanonicalEvent, keys: LocalKeyStore) -> Any:
    health = Opener(keys, Audience.HEALTH)
    return open_all(event.model_dump(mode="json"), event.id, health)


# --- what becomes what -------------------------------------------------------------------


def test_learning_disability_flag_is_raised(adapter: HealthAdapter, keys: LocalKeyStore) -> None:
    result, ctx = run(adapter, keys, example("01-bethany-learning-disability-flag.json"))
    assert [e.data.kind for e in result.events] == ["vulnerability_flag_raised"] * 2
    assert result.dropped == []
    learning, exploitation = result.events
    assert learning.id == ctx.event_id("Flag/mgp-flag-40117-ld")
    assert learning.subject == ctx.token(TokenKind.NHS_NUMBER, BETHANY_NHS)
    assert learning.time == datetime(2026, 2, 20, tzinfo=LONDON)
    assert learning.source_system == "millbrook-gp-system"
    data = learning.data
    assert data.kind == "vulnerability_flag_raised"
    assert data.active_from == date(2026, 2, 20)
    assert data.raised_by is Partner.HEALTH
    assert data.safeguarding_concern is False
    assert exploitation.data.kind == "vulnerability_flag_raised"
    assert exploitation.data.safeguarding_concern is True
    detail = opened(learning, keys)["data"]["detail"]
    assert detail["code"] == "110359009"
    assert detail["status"] == "active"


def test_health_detail_is_sealed_for_health_alone(
    adapter: HealthAdapter, keys: LocalKeyStore
) -> None:
    result, _ = run(adapter, keys, example("01-bethany-learning-disability-flag.json"))
    event = result.events[0]
    assert event.data.kind == "vulnerability_flag_raised"
    assert event.data.detail is not None
    assert event.data.detail.audiences == (Audience.HEALTH,)
    police = Opener(keys, Audience.POLICE)
    with pytest.raises(NotPermittedError):
        police.open(event.data.detail, event.id)
    identity = event.data.person.identity
    assert identity is not None
    assert police.open(identity, event.id)["family"] == "Marsh"


def test_person_and_address_keys_join_across_messages(
    adapter: HealthAdapter, keys: LocalKeyStore
) -> None:
    flags, ctx = run(adapter, keys, example("01-bethany-learning-disability-flag.json"))
    referral, _ = run(adapter, keys, example("04-bethany-mental-health-referral.xml"))
    assert flags.events[0].subject == referral.events[0].subject
    uprn = ctx.token(TokenKind.UPRN, "100023456789")
    for event in (*flags.events, *referral.events):
        assert uprn in {k.token for k in event.correlation_keys}


def test_peanut_allergy_flag_is_dropped(adapter: HealthAdapter, keys: LocalKeyStore) -> None:
    result, _ = run(adapter, keys, example("02-bethany-peanut-allergy-flag.xml"))
    assert result.events == []
    reasons = {d.fact_key: d.why for d in result.dropped}
    assert "not safeguarding-relevant" in reasons["Flag/mgp-flag-40117-pn"]
    assert "identity only" in reasons["Patient/mgp-pat-40117"]


def test_drug_and_alcohol_referral(adapter: HealthAdapter, keys: LocalKeyStore) -> None:
    result, ctx = run(adapter, keys, example("03-craig-drug-alcohol-referral.json"))
    (event,) = result.events
    assert event.data.kind == "support_referral_made"
    assert event.data.referred_on == date(2026, 3, 18)
    assert event.data.status == "active"
    assert event.data.referring_agency is Partner.HEALTH
    assert event.subject == ctx.token(TokenKind.NHS_NUMBER, CRAIG_NHS)
    assert event.data.service is not None
    assert event.data.service.audiences == (Audience.HEALTH,)
    assert opened(event, keys)["data"]["service"]["code"] == "417096006"


def test_mental_health_referral_from_xml_transaction(
    adapter: HealthAdapter, keys: LocalKeyStore
) -> None:
    result, _ = run(
        adapter, keys, example("04-bethany-mental-health-referral.xml"), "application/fhir+xml"
    )
    (event,) = result.events
    assert event.data.kind == "support_referral_made"
    assert event.data.referred_on == date(2026, 4, 9)
    assert event.occurred_at == datetime.fromisoformat("2026-04-09T14:05:00+01:00")


@pytest.mark.parametrize(
    "name",
    [
        "01-bethany-learning-disability-flag.json",
        "02-bethany-peanut-allergy-flag.xml",
        "03-craig-drug-alcohol-referral.json",
        "04-bethany-mental-health-referral.xml",
    ],
)
def test_json_and_xml_give_the_same_events(
    adapter: HealthAdapter, keys: LocalKeyStore, name: str
) -> None:
    doc = bundle_doc(name)
    as_xml = Bundle.model_validate(doc).model_dump_xml()
    xml_bytes = as_xml.encode() if isinstance(as_xml, str) else as_xml
    from_json, _ = run(adapter, keys, as_json(doc), "application/fhir+json")
    from_xml, _ = run(adapter, keys, xml_bytes, "application/fhir+xml")
    assert [opened(e, keys) for e in from_json.events] == [opened(e, keys) for e in from_xml.events]
    assert from_json.dropped == from_xml.dropped


def masked(value: Any) -> Any:
    """The event with sealed fields and tokens blanked: what is left is in the clear.

    Ciphertext and tokens are random-looking base64 that could contain a short canary by chance,
    and are exactly the places personal data is allowed to be.
    """
    if isinstance(value, dict):
        if "ciphertext" in value:
            return "<sealed>"
        return {k: masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v) for v in value]
    if isinstance(value, str) and TOKEN.fullmatch(value):
        return "<token>"
    return value


def test_no_plaintext_personal_or_health_data_in_events(
    adapter: HealthAdapter, keys: LocalKeyStore
) -> None:
    published = []
    for path in sorted(EXAMPLES.glob("0*")):
        result, _ = run(adapter, keys, path.read_bytes())
        published += [json.dumps(masked(e.model_dump(mode="json"))) for e in result.events]
        published += [f"{d.fact_key} {d.what} {d.why}" for d in result.dropped]
    text = "\n".join(published).lower()
    assert len(published) >= 6
    assert "<sealed>" in text
    assert "<token>" in text
    leaked = [canary for canary in CANARIES if canary.lower() in text]
    assert leaked == []


# --- status, dates and subjects ----------------------------------------------------------


def flag_bundle(**changes: Any) -> dict[str, Any]:
    doc = bundle_doc("01-bethany-learning-disability-flag.json")
    doc["entry"] = doc["entry"][:2]
    doc["entry"][1]["resource"].update(changes)
    return doc


def test_inactive_flag_is_ended(adapter: HealthAdapter, keys: LocalKeyStore) -> None:
    period = {"start": "2026-02-20", "end": "2026-05-01T16:30:00+01:00"}
    result, _ = run(adapter, keys, as_json(flag_bundle(status="inactive", period=period)))
    (event,) = result.events
    assert event.data.kind == "vulnerability_flag_ended"
    assert event.data.ended_on == date(2026, 5, 1)
    raised, _ = run(adapter, keys, example("01-bethany-learning-disability-flag.json"))
    assert raised.events[0].data.kind == "vulnerability_flag_raised"
    assert event.data.flag_ref == raised.events[0].data.flag_ref


def test_entered_in_error_flag_ends_at_last_update(
    adapter: HealthAdapter, keys: LocalKeyStore
) -> None:
    doc = flag_bundle(status="entered-in-error", meta={"lastUpdated": "2026-02-21T08:00:00Z"})
    result, _ = run(adapter, keys, as_json(doc))
    assert result.events[0].data.kind == "vulnerability_flag_ended"
    assert result.events[0].occurred_at == datetime(2026, 2, 21, 8, tzinfo=UTC)


@pytest.mark.parametrize(
    ("changes", "location"),
    [
        ({"period": None}, "period.start"),
        ({"status": "inactive", "period": {"start": "2026-02-20"}}, "period.end"),
    ],
)
def test_relevant_flag_without_its_date_is_refused(
    adapter: HealthAdapter, changes: dict[str, Any], location: str
) -> None:
    doc = flag_bundle(**changes)
    if doc["entry"][1]["resource"].get("period") is None:
        del doc["entry"][1]["resource"]["period"]
    with pytest.raises(Refusal) as refused:
        adapter.parse(as_json(doc), {})
    assert refused.value.reason is RejectReason.SCHEMA_VIOLATION
    assert refused.value.errors[0].location.endswith(location)


def test_flag_alone_with_nhs_number_identifier(adapter: HealthAdapter, keys: LocalKeyStore) -> None:
    flag = bundle_doc("01-bethany-learning-disability-flag.json")["entry"][1]["resource"]
    flag["meta"] = {"versionId": "3"}
    flag["subject"] = {
        "identifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": BETHANY_NHS}
    }
    result, ctx = run(adapter, keys, as_json(flag))
    assert ctx.message_id == "Flag/mgp-flag-40117-ld/_history/3"
    assert ctx.source_system == "health-system"
    assert result.events[0].subject == ctx.token(TokenKind.NHS_NUMBER, BETHANY_NHS)


def test_relative_patient_reference_resolves(adapter: HealthAdapter, keys: LocalKeyStore) -> None:
    doc = flag_bundle(subject={"reference": "Patient/mgp-pat-40117"})
    result, ctx = run(adapter, keys, as_json(doc))
    assert result.events[0].subject == ctx.token(TokenKind.NHS_NUMBER, BETHANY_NHS)


def test_flag_without_a_person_is_refused(adapter: HealthAdapter) -> None:
    doc = flag_bundle(subject={"reference": "Patient/someone-else"})
    with pytest.raises(Refusal) as refused:
        adapter.parse(as_json(doc), {})
    assert refused.value.reason is RejectReason.SCHEMA_VIOLATION
    assert refused.value.errors[0].location == "Bundle.entry[1].resource.subject"


def test_source_system_header_when_bundle_has_none(
    adapter: HealthAdapter, keys: LocalKeyStore
) -> None:
    doc = flag_bundle()
    del doc["meta"]
    parsed = adapter.parse(as_json(doc), {"asbx-source-system": "SystmOne Millbrook"})
    assert parsed.source_system == "SystmOne-Millbrook"


def referral_bundle(**changes: Any) -> dict[str, Any]:
    doc = bundle_doc("03-craig-drug-alcohol-referral.json")
    doc["entry"][1]["resource"].update(changes)
    return doc


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        (
            {"code": {"coding": [{"system": "http://snomed.info/sct", "code": "26604007"}]}},
            "not a referral to a support service",
        ),
        ({"intent": "proposal"}, "not a referral that was made"),
        ({"status": "unknown"}, "status unknown"),
    ],
)
def test_other_service_requests_are_dropped(
    adapter: HealthAdapter, keys: LocalKeyStore, changes: dict[str, Any], why: str
) -> None:
    result, _ = run(adapter, keys, as_json(referral_bundle(**changes)))
    assert result.events == []
    assert why in result.dropped[0].why
    assert result.dropped[1].fact_key == "Patient/mgp-pat-40262"


@pytest.mark.parametrize(
    ("reason", "why"),
    [
        ("1188261000000103", "no encounter event"),
        ("26604007", "not safeguarding-relevant"),
    ],
)
def test_encounters_are_dropped_with_their_reason(
    adapter: HealthAdapter, keys: LocalKeyStore, reason: str, why: str
) -> None:
    doc = bundle_doc("03-craig-drug-alcohol-referral.json")
    doc["entry"][1]["resource"] = {
        "resourceType": "Encounter",
        "id": "mgp-enc-1",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "subject": {"reference": doc["entry"][0]["fullUrl"]},
        "reasonCode": [{"coding": [{"system": "http://snomed.info/sct", "code": reason}]}],
    }
    result, _ = run(adapter, keys, as_json(doc))
    assert result.events == []
    assert why in result.dropped[0].why


def test_lone_patient_gives_no_event(adapter: HealthAdapter, keys: LocalKeyStore) -> None:
    patient = bundle_doc("03-craig-drug-alcohol-referral.json")["entry"][0]["resource"]
    result, ctx = run(adapter, keys, as_json(patient))
    assert ctx.message_id == "Patient/mgp-pat-40262"
    assert result.events == []
    assert [d.fact_key for d in result.dropped] == ["Patient/mgp-pat-40262"]


def test_nhs_number_used_as_patient_id_stays_out_of_keys(
    adapter: HealthAdapter, keys: LocalKeyStore
) -> None:
    """The NHS Spine (PDS) uses the NHS number as Patient.id; it must not reach the audit."""
    doc = bundle_doc("02-bethany-peanut-allergy-flag.xml")
    doc["entry"][0]["resource"]["id"] = BETHANY_NHS
    doc["entry"][0]["fullUrl"] = f"https://api.service.nhs.uk/FHIR/R4/Patient/{BETHANY_NHS}"
    doc["entry"][1]["resource"]["subject"] = {"reference": f"Patient/{BETHANY_NHS}"}
    dropped, _ = run(adapter, keys, as_json(doc))
    assert [d.fact_key for d in dropped.dropped] == [
        "Flag/mgp-flag-40117-pn",
        "Patient@Bundle.entry[0].resource",
    ]
    doc["entry"][1]["resource"]["code"]["coding"][0]["code"] = "110359009"
    raised, ctx = run(adapter, keys, as_json(doc))
    assert raised.events[0].subject == ctx.token(TokenKind.NHS_NUMBER, BETHANY_NHS)
    with pytest.raises(Refusal) as refused:
        adapter.parse(as_json(doc["entry"][0]["resource"]), {})
    assert BETHANY_NHS not in refused.value.message
