"""The transactional engine on the real broker: state survives restarts, output is exactly once."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from services.kafka.reader import collect
from services.streams.engine import EngineConfig, Output, TransactionalEngine
from services.streams.store import PartitionStore
from tests.kafka_fixture import Broker, broker_client_config

pytestmark = pytest.mark.kafka


class RunningCount:
    """Counts records per key and emits the running count: any replay would show as a repeat."""

    def __init__(self, out_topic: str) -> None:
        self.out_topic = out_topic

    def process(
        self, store: PartitionStore[int], record: ConsumerRecord[bytes, bytes]
    ) -> list[Output]:
        key = (record.key or b"").decode()
        if record.value == b"poison":
            raise ValueError("poison record")
        count = (store.get(key) or 0) + 1
        store.put(key, count)
        return [Output(self.out_topic, key.encode(), json.dumps({"key": key, "n": count}).encode())]

    def encode(self, key: str, value: int) -> bytes:
        return str(value).encode()

    def decode(self, key: str, raw: bytes) -> int:
        return int(raw)

    def encode_key(self, key: str) -> bytes:
        return key.encode()

    def decode_key(self, raw: bytes) -> str:
        return raw.decode()


async def _topics(bootstrap: str, *names: str, compact: tuple[str, ...] = ()) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **broker_client_config())
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(
                    n, 2, 1, topic_configs={"cleanup.policy": "compact"} if n in compact else {}
                )
                for n in names
            ]
        )
    finally:
        await admin.close()


async def _engine_setup(
    broker: Broker, group: str, **options: Any
) -> tuple[dict[str, str], EngineConfig]:
    """Fresh input, output, changelog and dead-letter topics, and a counting engine's config."""
    run = uuid.uuid4().hex[:8]
    names = {k: f"test.engine.{k}.{run}" for k in ("in", "out", "changelog", "dlq")}
    await _topics(broker.bootstrap, *names.values(), compact=(names["changelog"],))
    config = EngineConfig(
        name="count",
        bootstrap=broker.bootstrap,
        input_topic=names["in"],
        changelog_topic=names["changelog"],
        group_id=f"{group}-{run}",
        dead_letter_topic=names["dlq"],
        client_config=broker_client_config(),
        **options,
    )
    return names, config


async def _send(bootstrap: str, topic: str, items: list[tuple[str, bytes]]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, **broker_client_config()
    )
    await producer.start()
    try:
        for key, value in items:
            await producer.send_and_wait(topic, value, key=key.encode())
    finally:
        await producer.stop()


async def _run_until_processed(engine: TransactionalEngine[Any], records: int) -> None:
    """Run ``engine`` until it has committed ``records`` records (or 30 s), then stop it."""
    stop = asyncio.Event()
    task = asyncio.create_task(engine.run(stop))
    for _wait in range(300):
        if engine.processed >= records:
            break
        await asyncio.sleep(0.1)
    stop.set()
    await task


def _counts_by_key(outputs: list[ConsumerRecord[bytes, bytes]]) -> dict[str, list[int]]:
    per_key: dict[str, list[int]] = {}
    for record in outputs:
        item = json.loads(record.value or b"")
        per_key.setdefault(item["key"], []).append(item["n"])
    return per_key


async def test_state_survives_restart_and_output_is_exactly_once(kafka_broker: Broker) -> None:
    """A restart mid-stream neither repeats nor loses output; a poison record is dead-lettered."""
    names, config = await _engine_setup(kafka_broker, "test-engine", max_records=7)
    keys = [f"k{i % 5}" for i in range(60)]
    await _send(
        kafka_broker.bootstrap, names["in"], [(k, b"x") for k in keys[:30]] + [("k0", b"poison")]
    )

    # The first run, then a restart that must resume from changelog + offsets.
    await _run_until_processed(TransactionalEngine(config, RunningCount(names["out"])), 31)
    await _send(kafka_broker.bootstrap, names["in"], [(k, b"x") for k in keys[30:]])
    await _run_until_processed(TransactionalEngine(config, RunningCount(names["out"])), 30)

    outputs = await collect(
        kafka_broker.bootstrap, names["out"], until=lambda rs: len(rs) >= 60, timeout=30
    )
    assert len(outputs) == 60
    assert all(sorted(ns) == list(range(1, 13)) for ns in _counts_by_key(outputs).values())
    dead = await collect(
        kafka_broker.bootstrap, names["dlq"], until=lambda rs: len(rs) >= 1, timeout=10
    )
    assert dead[0].value == b"poison"


async def test_what_must_be_durable_first_fails_and_the_transaction_is_retried_whole(
    kafka_broker: Broker,
) -> None:
    """``before_commit`` runs inside each transaction, after its records are sent (the
    correlator writes the keys its alerts are sealed under there). When it fails, nothing the
    batch sent becomes readable, and the batch is processed again from committed state."""
    names, config = await _engine_setup(kafka_broker, "test-engine-durable")
    calls = 0

    async def durable_once_it_works() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("disk full")

    keys = [f"k{i % 3}" for i in range(12)]
    await _send(kafka_broker.bootstrap, names["in"], [(k, b"x") for k in keys])
    engine = TransactionalEngine(
        config, RunningCount(names["out"]), before_commit=durable_once_it_works
    )
    await _run_until_processed(engine, 12)
    outputs = await collect(
        kafka_broker.bootstrap, names["out"], until=lambda rs: len(rs) >= 12, timeout=30
    )
    with pytest.raises(TimeoutError):  # and nothing more: no batch's output twice
        await collect(
            kafka_broker.bootstrap, names["out"], until=lambda rs: len(rs) > 12, timeout=3
        )
    assert calls >= 2
    assert len(outputs) == 12  # the aborted batch's counts were never readable
    assert all(sorted(ns) == [1, 2, 3, 4] for ns in _counts_by_key(outputs).values())


async def test_a_slow_claim_neither_expels_the_member_nor_holds_up_other_partitions(
    kafka_broker: Broker,
) -> None:
    """Restoring runs outside the rebalance callback (aiokafka does not heartbeat inside it).

    Partition 1's restore outlasts the 10 s session timeout. With claims inside the callback,
    nothing was processed until every partition was restored (and in a cold restore of a large
    state, the member was expelled and claimed everything again); now partition 0 is processed
    meanwhile, and each partition is claimed once. (Claims run one at a time in partition
    order, so partition 0's is never queued behind partition 1's.)
    """
    names, config = await _engine_setup(kafka_broker, "test-engine-slow")
    producer = AIOKafkaProducer(bootstrap_servers=kafka_broker.bootstrap, **broker_client_config())
    await producer.start()
    try:
        for i in range(20):
            await producer.send_and_wait(names["in"], b"x", key=f"k{i}".encode(), partition=i % 2)
    finally:
        await producer.stop()

    engine = TransactionalEngine(config, RunningCount(names["out"]))
    restores: list[int] = []
    restore = engine._restore

    seen_while_claiming: list[tuple[int, list[int]]] = []

    async def slow_restore(partition: int) -> tuple[dict[str, PartitionStore[int]], int]:
        restores.append(partition)
        if partition == 1:
            # Partition 1 stays unclaimed until partition 0 is processed (bounded: with claims
            # inside the callback it never would be), then past the session timeout.
            for _ in range(600):
                if engine.processed >= 10:
                    break
                await asyncio.sleep(0.1)
            seen_while_claiming.append((engine.processed, engine.claiming))
            await asyncio.sleep(11)
        return await restore(partition)

    engine._restore = slow_restore  # type: ignore[method-assign]
    stop = asyncio.Event()
    task = asyncio.create_task(engine.run(stop))
    try:
        for _ in range(900):
            if seen_while_claiming:
                break
            await asyncio.sleep(0.1)
        assert seen_while_claiming, "partition 1's claim never started"
        processed, claiming = seen_while_claiming[0]
        assert processed == 10, "partition 0 waited for partition 1's claim"
        assert claiming == [1]
        for _ in range(300):
            if engine.processed >= 20:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(2)  # an expelled member would be claiming again by now
    finally:
        stop.set()
        await task
    assert engine.processed == 20
    assert sorted(restores) == [0, 1], f"partitions claimed again: {restores}"
