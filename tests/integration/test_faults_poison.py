"""A poison message never blocks its partition, in a normaliser or in a correlator stage.

Poison here means processing raises for a reason that is not the partner's input: a bug in a
mapping or a rule. The message is set aside with a reason (rejected topic for a normaliser,
dead-letter topic for a stream stage) and the messages behind it on the same partition flow on.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer, ConsumerRecord

from contracts.rejection import RejectedMessage
from contracts.topics import KeyKind, TopicSpec, rejected_topic
from contracts.vocab import Partner, RejectReason
from deploy.kafka_client import client_config_from_env
from deploy.topics import ensure_topics
from services.kafka.reader import collect, read_all
from services.normalise.app import build_normaliser
from services.normalise.context import MappingContext
from services.normalise.port import MappingResult, Parsed, PartnerAdapter
from services.partners.registry import adapter_for
from services.settings import Settings
from services.streams.engine import EngineConfig, Output, TransactionalEngine
from services.streams.store import PartitionStore
from tests.integration.faults import (
    ThrowawayBroker,
    check_normalised_once,
    expect,
    partner_stream,
    publish_partner,
    wait_for_verdicts,
)

pytestmark = pytest.mark.kafka


@dataclasses.dataclass
class BuggyMapping:
    """A real partner adapter with two stand-ins for bugs, each hitting one message id.

    One makes the mapping raise; the other returns something that is not an event, so the
    failure comes later, when the service turns the outcome into records.
    """

    inner: PartnerAdapter
    poison_id: str
    broken_id: str

    @property
    def partner(self) -> Partner:
        return self.inner.partner

    def parse(self, raw: bytes, headers: Mapping[str, str]) -> Parsed:
        return self.inner.parse(raw, headers)

    def to_canonical(self, parsed: Parsed, ctx: MappingContext) -> MappingResult:
        if parsed.message_id == self.poison_id:
            raise KeyError("mapping table has no entry")
        if parsed.message_id == self.broken_id:
            return MappingResult(events=[object()])
        return self.inner.to_canonical(parsed, ctx)


async def test_normaliser_rejects_a_message_its_mapping_fails_on_and_carries_on(
    fault_broker: ThrowawayBroker, fault_keys: Path
) -> None:
    """Mapping bugs on two messages: each rejected as internal_error; the partition flows on."""
    messages = partner_stream(12, seed=4, bad_share=0.0, partners=(Partner.HOUSING,))
    poison, broken = messages[3], messages[7]
    expected = expect(messages, fault_keys)
    digests = [hashlib.sha256(m.value).hexdigest() for m in (poison, broken)]
    for digest in digests:
        expected.outcomes[digest] = None
        expected.audit_ids.pop(digest)
    ids = [json.loads(m.value)["message_id"] for m in (poison, broken)]
    settings = Settings(KAFKA_BOOTSTRAP_SERVERS=fault_broker.bootstrap, ASBX_KEYS_DIR=fault_keys)
    service = build_normaliser(BuggyMapping(adapter_for("housing"), *ids), settings)
    await service.start()
    try:
        await publish_partner(fault_broker.bootstrap, messages, key=b"one-partition")
        await wait_for_verdicts(fault_broker.bootstrap, set(expected.outcomes), timeout=60)
    finally:
        await service.stop()
    await check_normalised_once(fault_broker.bootstrap, expected)
    rejections = [
        RejectedMessage.model_validate_json(r.value)
        for r in await read_all(fault_broker.bootstrap, rejected_topic("housing"))
    ]
    for digest, error in zip(digests, ("KeyError", "AttributeError"), strict=True):
        (rejection,) = [r for r in rejections if r.original_sha256 == digest]
        assert rejection.reason is RejectReason.INTERNAL_ERROR
        assert error in rejection.message


class CountWithBug:
    """Running count per key; one record changes state and then raises (a rule bug)."""

    def __init__(self, out_topic: str) -> None:
        self.out_topic = out_topic

    def process(
        self, store: PartitionStore[int], record: ConsumerRecord[bytes, bytes]
    ) -> list[Output]:
        key = (record.key or b"").decode()
        count = (store.get(key) or 0) + 1
        store.put(key, count)
        if record.value == b"poison":
            raise ZeroDivisionError("rule divided by an empty window")
        return [Output(self.out_topic, key.encode(), json.dumps({"n": count}).encode())]

    def encode(self, key: str, value: int) -> bytes:
        return str(value).encode()

    def decode(self, key: str, raw: bytes) -> int:
        return int(raw)

    def encode_key(self, key: str) -> bytes:
        return key.encode()

    def decode_key(self, raw: bytes) -> str:
        return raw.decode()


async def _send(bootstrap: str, topic: str, values: list[bytes]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, **client_config_from_env()
    )
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value, key=b"k")
    finally:
        await producer.stop()


async def test_stream_stage_dead_letters_a_failing_record_without_its_state_change(
    fault_broker: ThrowawayBroker,
) -> None:
    """A stage record raising mid-update is dead-lettered with its reason and leaves no state."""
    run = uuid.uuid4().hex[:8]
    names = {k: f"test.poison.{k}.{run}" for k in ("in", "out", "changelog", "dlq")}
    specs = [
        TopicSpec(
            name=name,
            purpose="test",
            key=KeyKind.SUBJECT_TOKEN,
            partitions=2,
            cleanup_policy="compact" if kind == "changelog" else "delete",
        )
        for kind, name in names.items()
    ]
    await ensure_topics(fault_broker.bootstrap, specs)
    config = EngineConfig(
        name="count",
        bootstrap=fault_broker.bootstrap,
        input_topic=names["in"],
        changelog_topic=names["changelog"],
        group_id=f"test-poison-{run}",
        dead_letter_topic=names["dlq"],
        client_config=client_config_from_env(),  # this node's admin
    )
    values = [b"x"] * 5 + [b"poison"] + [b"x"] * 5
    await _send(fault_broker.bootstrap, names["in"], values)
    engine: TransactionalEngine[Any] = TransactionalEngine(config, CountWithBug(names["out"]))
    stop = asyncio.Event()
    task = asyncio.create_task(engine.run(stop))
    try:
        outputs = await collect(
            fault_broker.bootstrap, names["out"], until=lambda rs: len(rs) >= 10, timeout=60
        )
    finally:
        stop.set()
        await task
    counts = [json.loads(r.value)["n"] for r in sorted(outputs, key=lambda r: r.offset)]
    assert counts == list(range(1, 11)), "the failed record's state change leaked"
    (dead,) = await read_all(fault_broker.bootstrap, names["dlq"])
    headers = {k: v.decode() for k, v in dead.headers}
    assert dead.value == b"poison"
    assert headers["asbx_error"] == "ZeroDivisionError"
    assert "empty window" in headers["asbx_reason"]
    assert headers["asbx_source"] == f"{names['in']}/{dead.partition}/5"
