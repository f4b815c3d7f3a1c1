"""Partner messages in, canonical events and rejections out, on the real broker."""

from __future__ import annotations

import json
import uuid

import pytest

from contracts.audit import AuditAction
from contracts.envelope import CanonicalEvent
from contracts.vocab import Audience, Partner, RejectReason
from services.demo.scenario import ScenarioMessage, bad_examples, scenario
from services.protection.keys import LocalKeyStore
from services.protection.sealing import Opener
from tests.integration.exchange import Exchange, example, with_message_id

pytestmark = pytest.mark.kafka


async def test_scenario_becomes_canonical_events_with_cloudevents_headers(
    exchange: Exchange,
) -> None:
    """Every scenario message is accepted; events carry ce_* and trace headers, keyed by subject."""
    run = uuid.uuid4().hex[:8]
    messages = [with_message_id(m, f"S-{run}-{i}") for i, m in enumerate(scenario())]
    fates = await exchange.send(*messages)
    verdicts = [f.verdict.action if f.verdict else None for f in fates]
    assert verdicts == [AuditAction.INBOUND_ACCEPTED] * len(messages)
    police = next(f for f in fates if f.message.path.name == "05-incident-threats.json")
    records = await exchange.canonical_records(police.digest, expected=1)
    record = records[0]
    headers = {k: v.decode() for k, v in record.headers}  # type: ignore[attr-defined]
    event = CanonicalEvent.model_validate_json(record.value)  # type: ignore[attr-defined]
    assert record.key.decode() == event.subject  # type: ignore[attr-defined]
    assert headers["ce_specversion"] == "1.0"
    assert headers["ce_type"] == "uk.asbx.asb_incident_reported.v1"
    assert headers["ce_id"] == event.id
    assert headers["ce_subject"] == event.subject
    assert headers["traceparent"].startswith("00-")
    assert event.agreement == "isa-asb-police@1"


async def test_peanut_allergy_flag_dropped_and_audited(exchange: Exchange) -> None:
    """A flag that is not safeguarding-relevant never leaves health; the drop is audited."""
    message = example(Partner.HEALTH, "02-bethany-peanut-allergy-flag.xml")
    (fate,) = await exchange.send(message)
    assert fate.verdict is not None
    assert fate.verdict.action is AuditAction.INBOUND_ACCEPTED
    assert not fate.published_types()
    dropped = [r for r in fate.records if r.action is AuditAction.FACT_DROPPED]
    assert dropped
    assert any("safeguarding" in (r.justification or "") for r in dropped)


async def test_learning_disability_flag_becomes_vulnerability_event(
    exchange: Exchange, keys: LocalKeyStore
) -> None:
    """A learning-disability flag becomes a vulnerability event whose detail only health opens."""
    message = example(Partner.HEALTH, "01-bethany-learning-disability-flag.json")
    (fate,) = await exchange.send(message)
    assert fate.published_types()["vulnerability_flag_raised"] >= 1
    events = await exchange.canonical(fate.digest, expected=sum(fate.published_types().values()))
    flag = next(e for e in events if e.data.kind == "vulnerability_flag_raised")
    assert flag.data.detail is not None  # type: ignore[union-attr]
    assert flag.data.detail.audiences == (Audience.HEALTH,)  # type: ignore[union-attr]
    detail = Opener(keys, Audience.HEALTH).open(flag.data.detail, flag.id)  # type: ignore[union-attr]
    assert "110359009" in json.dumps(detail)


async def test_exact_redelivery_produces_no_second_event(exchange: Exchange) -> None:
    """The same partner message twice: one set of canonical events, the second is a duplicate."""
    message = example(Partner.POLICE, "08-incident-visitors-back.json")
    (first,) = await exchange.send(message)
    (second,) = await exchange.send(message)
    assert first.verdict is not None
    assert first.verdict.action is AuditAction.INBOUND_ACCEPTED
    assert second.verdict is not None
    assert second.verdict.action is AuditAction.INBOUND_DUPLICATE
    published = sum(first.published_types().values())
    (third,) = await exchange.send(example(Partner.POLICE, "07-incident-stairwell.json"))
    assert third.verdict is not None
    assert third.verdict.action is AuditAction.INBOUND_ACCEPTED
    events = await exchange.canonical(first.digest, expected=published)
    assert len(events) == published == 1


def _reused(message: ScenarioMessage) -> ScenarioMessage:
    doc = json.loads(message.value)
    doc["narrative"] = doc["narrative"] + " Updated."
    return ScenarioMessage(
        message.partner, message.path, message.content_type, json.dumps(doc).encode()
    )


def _oversized() -> ScenarioMessage:
    base = example(Partner.POLICE, "02-incident-noise-drugs.json")
    doc = json.loads(base.value)
    doc["event"]["narrative"] = "noise " * (10 * 1024 * 1024 // 6)
    return ScenarioMessage(base.partner, base.path, base.content_type, json.dumps(doc).encode())


BAD_CASES = {
    "not JSON": (lambda: example(Partner.HOUSING, "bad/not-json.json"), RejectReason.NOT_PARSEABLE),
    "wrong schema": (
        lambda: example(Partner.POLICE, "bad/missing-required-field.json"),
        RejectReason.SCHEMA_VIOLATION,
    ),
    "bad NHS check digit": (
        lambda: example(Partner.HEALTH, "bad/bad-nhs-check-digit.json"),
        RejectReason.INVALID_NHS_NUMBER,
    ),
    "10 MB message": (_oversized, RejectReason.PAYLOAD_TOO_LARGE),
    "unknown FHIR resource type": (
        lambda: example(Partner.HEALTH, "bad/unknown-resource-type.json"),
        RejectReason.UNKNOWN_RESOURCE_TYPE,
    ),
    "XML entity bomb": (
        lambda: example(Partner.HEALTH, "bad/hostile-billion-laughs.xml"),
        RejectReason.HOSTILE_CONTENT,
    ),
    "XML external entity": (
        lambda: example(Partner.HEALTH, "bad/hostile-external-entity.xml"),
        RejectReason.HOSTILE_CONTENT,
    ),
    "bad UPRN": (lambda: example(Partner.HOUSING, "bad/bad-uprn.json"), RejectReason.INVALID_UPRN),
    "bad postcode": (
        lambda: example(Partner.POLICE, "bad/bad-postcode.json"),
        RejectReason.INVALID_POSTCODE,
    ),
}


@pytest.mark.parametrize("case", list(BAD_CASES))
async def test_bad_input_rejected_with_reason_and_next_message_processed(
    exchange: Exchange, keys: LocalKeyStore, case: str
) -> None:
    """Bad input lands on the partner's rejected topic, original kept; the next good one flows."""
    make, reason = BAD_CASES[case]
    bad = make()
    good = example(
        bad.partner,
        {
            Partner.HOUSING: "03-asb-case-report.json",
            Partner.POLICE: "07-incident-stairwell.json",
            Partner.HEALTH: "03-craig-drug-alcohol-referral.json",
        }[bad.partner],
    )
    bad_fate, good_fate = await exchange.send(bad, good)
    assert bad_fate.verdict is not None
    assert bad_fate.verdict.action is AuditAction.INBOUND_REJECTED
    rejection = await exchange.rejection(bad.partner, bad_fate.digest)
    assert rejection.reason is reason, rejection.message
    assert rejection.message
    assert rejection.original_size == len(bad.value)
    opened = Opener(keys, Audience(bad.partner.value)).open_bytes(
        rejection.original, rejection.reject_id
    )
    assert opened == bad.value
    assert good_fate.verdict is not None
    assert good_fate.verdict.action is AuditAction.INBOUND_ACCEPTED


async def test_message_id_reused_with_different_content_rejected(exchange: Exchange) -> None:
    """A message id already accepted, sent again with other content, is refused; nothing is lost."""
    original = example(Partner.HOUSING, "06-asb-case-report.json")
    changed = _reused(original)
    first, second = await exchange.send(original, changed)
    assert first.verdict is not None
    assert first.verdict.action is AuditAction.INBOUND_ACCEPTED
    assert second.verdict is not None
    assert second.verdict.action is AuditAction.INBOUND_REJECTED
    rejection = await exchange.rejection(Partner.HOUSING, second.digest)
    assert rejection.reason is RejectReason.MESSAGE_ID_REUSED


async def test_every_bad_example_is_rejected(exchange: Exchange) -> None:
    """All shipped bad examples are refused, none accepted."""
    fates = await exchange.send(*bad_examples())
    assert all(
        f.verdict is not None and f.verdict.action is AuditAction.INBOUND_REJECTED for f in fates
    )
