"""Canary: distinctive personal data sent by every partner never appears on a shared topic.

The canary messages carry names, NHS numbers, addresses, phone numbers and narratives that occur
nowhere else. After they flow (good ones accepted, a broken one rejected), every record of every
topic except the partners' own inbound topics is read whole, key, headers and value, and searched
for each string in the forms a leak could take (as sent, upper case, digits without spaces).
"""

from __future__ import annotations

import json

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from contracts.audit import AuditAction
from contracts.topics import PARTNERS, inbound_topic
from contracts.vocab import Partner
from services.demo.scenario import ScenarioMessage
from services.kafka.reader import read_all
from tests.integration.exchange import Exchange, example
from tests.kafka_fixture import broker_client_config

pytestmark = pytest.mark.kafka

CANARIES = {
    "given": "Zephyrine",
    "family": "Quartermaine-Oyelaran",
    "nhs": "943 476 5870",
    "phone": "07700 900 888",
    "street": "Obscurity Mansions",
    "narrative": "lavender trombones at midnight",
}


def _forms(text: str) -> set[str]:
    forms = {text, text.upper(), text.lower()}
    if any(ch.isdigit() for ch in text):
        forms.add(text.replace(" ", ""))
    return forms


def _housing() -> ScenarioMessage:
    base = example(Partner.HOUSING, "03-asb-case-report.json")
    doc = json.loads(base.value)
    victim = doc["victims"][0]
    victim.update(
        given_name=CANARIES["given"], family_name=CANARIES["family"], phone=CANARIES["phone"]
    )
    doc["location"]["address_lines"] = ["Flat 9", CANARIES["street"], "Millbrook"]
    doc["narrative"] = f"Tenant reports {CANARIES['narrative']}."
    return ScenarioMessage(base.partner, base.path, base.content_type, json.dumps(doc).encode())


def _police() -> ScenarioMessage:
    base = example(Partner.POLICE, "05-incident-threats.json")
    text = base.value.decode()
    text = text.replace("Bethany", CANARIES["given"]).replace("Marsh", CANARIES["family"])
    text = text.replace("07700 900461", CANARIES["phone"]).replace(
        "Larkspur Court", CANARIES["street"]
    )
    doc = json.loads(text)
    doc["event"]["narrative"] = f"Caller describes {CANARIES['narrative']}."
    return ScenarioMessage(base.partner, base.path, base.content_type, json.dumps(doc).encode())


def _health() -> ScenarioMessage:
    base = example(Partner.HEALTH, "03-craig-drug-alcohol-referral.json")
    text = (
        base.value.decode()
        .replace("Craig", CANARIES["given"])
        .replace("Holden", CANARIES["family"])
    )
    text = text.replace("9434765870", CANARIES["nhs"].replace(" ", ""))
    return ScenarioMessage(base.partner, base.path, base.content_type, text.encode())


def _broken() -> ScenarioMessage:
    """A malformed message full of canaries: it must be rejected without leaking them."""
    good = _housing()
    return ScenarioMessage(good.partner, good.path, good.content_type, good.value[:-40])


async def test_no_personal_data_on_any_shared_topic(exchange: Exchange) -> None:
    """Every byte of every non-inbound topic is free of the canary strings."""
    fates = await exchange.send(_housing(), _police(), _health(), _broken())
    verdicts = [f.verdict.action if f.verdict else None for f in fates]
    assert verdicts == [AuditAction.INBOUND_ACCEPTED] * 3 + [AuditAction.INBOUND_REJECTED]

    admin = AIOKafkaAdminClient(bootstrap_servers=exchange.bootstrap, **broker_client_config())
    await admin.start()
    try:
        topics = sorted(t for t in await admin.list_topics() if not t.startswith("__"))
    finally:
        await admin.close()
    inbound = {inbound_topic(p) for p in PARTNERS}
    shared = [t for t in topics if t not in inbound and t.startswith("asbx.")]
    assert {"asbx.canonical.events.v1", "asbx.audit.v1", "asbx.rejected.housing.v1"} <= set(shared)

    needles = {form for text in CANARIES.values() for form in _forms(text)}
    scanned = 0
    for topic in shared:
        records = await read_all(exchange.bootstrap, topic)
        for record in records:
            blob = b"".join(
                [
                    record.key or b"",
                    record.value or b"",
                    *(k.encode() + (v or b"") for k, v in record.headers),
                ]
            ).decode("utf-8", errors="replace")
            leaked = [n for n in needles if n in blob]
            assert not leaked, f"{topic} offset {record.offset} leaks {leaked}"
            scanned += 1
    assert scanned > 0
