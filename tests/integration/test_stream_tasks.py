"""Stages sharing a task on the real broker: one transaction per task, records for the task's
own partition handed over without Kafka, the others through their topic, exactly once."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.partitioner import DefaultPartitioner

from services.kafka.reader import collect, read_all
from services.streams.engine import EngineConfig, Output, Stage, TransactionalEngine
from services.streams.store import PartitionStore
from tests.integration.test_stream_engine import RunningCount, _send, _topics
from tests.kafka_fixture import Broker, broker_client_config

pytestmark = pytest.mark.kafka


class Rekey(RunningCount):
    """First stage: counts its input per key (state of its own) and re-keys each record by its
    value, for the next stage, as the correlator's router re-keys events by person."""

    def process(
        self, store: PartitionStore[int], record: ConsumerRecord[bytes, bytes]
    ) -> list[Output]:
        key = (record.key or b"").decode()
        store.put(key, (store.get(key) or 0) + 1)
        return [Output(self.out_topic, record.value or b"", record.value or b"")]


def _engine(run: str, bootstrap: str, *, adopt: str | None = None) -> TransactionalEngine[int]:
    names = _names(run)
    config = EngineConfig(
        name="tasks",
        bootstrap=bootstrap,
        input_topic=names["in"],
        changelog_topic=names["in-changelog"],
        group_id=f"test-tasks-{run}",
        dead_letter_topic=names["dlq"],
        client_config=broker_client_config(),
    )
    count = Stage(
        "count",
        names["mid"],
        names["mid-changelog"],
        RunningCount(names["out"]),
        adopt_offsets_of=adopt,
    )
    return TransactionalEngine(config, Rekey(names["mid"]), also=(count,), adopt_offsets_of=adopt)


async def _fresh_topics(broker: Broker) -> tuple[str, dict[str, str]]:
    """A run id and its own topics (two partitions each; changelogs compacted)."""
    run = uuid.uuid4().hex[:8]
    names = _names(run)
    compact = (names["in-changelog"], names["mid-changelog"])
    await _topics(broker.bootstrap, *names.values(), compact=compact)
    return run, names


def _names(run: str) -> dict[str, str]:
    parts = ("in", "mid", "out", "in-changelog", "mid-changelog", "dlq")
    return {k: f"test.tasks.{k}.{run}" for k in parts}


async def _ends(tps: list[TopicPartition], broker: Broker) -> dict[int, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap, **broker_client_config())
    await consumer.start()
    try:
        return {tp.partition: end for tp, end in (await consumer.end_offsets(tps)).items()}
    finally:
        await consumer.stop()


async def _committed(
    bootstrap: str, group: str, tps: list[TopicPartition]
) -> dict[int, int | None]:
    """``group``'s committed offset of each partition (None: never committed)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        **broker_client_config(),
    )
    await consumer.start()
    try:
        return {tp.partition: await consumer.committed(tp) for tp in tps}
    finally:
        await consumer.stop()


async def test_a_task_hands_its_own_partitions_records_over_and_publishes_the_rest(
    kafka_broker: Broker,
) -> None:
    run, names = await _fresh_topics(kafka_broker)
    targets = [f"v{i % 6}" for i in range(40)]
    items = [(f"k{i}", target.encode()) for i, target in enumerate(targets)]
    await _send(kafka_broker.bootstrap, names["in"], items[:20])

    inline = 0
    for half in (0, 1):  # a restart between the halves resumes from changelogs and offsets
        engine = _engine(run, kafka_broker.bootstrap)
        if half == 1:
            await _send(kafka_broker.bootstrap, names["in"], items[20:])
        want = 20 * (half + 1)

        def counted(records: list[ConsumerRecord[bytes, bytes]], want: int = want) -> bool:
            return len(records) >= want

        stop = asyncio.Event()
        task = asyncio.create_task(engine.run(stop))
        try:
            await collect(kafka_broker.bootstrap, names["out"], until=counted, timeout=60)
        finally:
            stop.set()
            await task
        inline += engine.delivered_inline
    out = await read_all(kafka_broker.bootstrap, names["out"])

    counts = [json.loads(r.value) for r in out]
    per_target: dict[str, list[int]] = {}
    for item in counts:
        per_target.setdefault(item["key"], []).append(item["n"])
    assert len(counts) == 40, "a record was counted twice or lost"
    expected = Counter(targets)
    assert {k: sorted(ns) for k, ns in per_target.items()} == {
        k: list(range(1, n + 1)) for k, n in expected.items()
    }
    # Both paths were taken, and the topic carried exactly the records for other partitions.
    published = await read_all(kafka_broker.bootstrap, names["mid"])
    assert 0 < inline < 40
    assert len(published) == 40 - inline
    partitioner = DefaultPartitioner()
    for record in published:
        assert record.partition == partitioner(record.key, [0, 1], [0, 1])
    # One group holds both stages' input offsets: a restart resumed each where it had stopped.
    group = f"test-tasks-{run}"
    ins = [TopicPartition(names["in"], p) for p in (0, 1)]
    assert await _committed(kafka_broker.bootstrap, group, ins) == await _ends(ins, kafka_broker)
    mids = [TopicPartition(names["mid"], p) for p in (0, 1)]
    by_partition = Counter(r.partition for r in published)
    committed = await _committed(kafka_broker.bootstrap, group, mids)
    assert all((committed[p] or 0) > 0 for p in by_partition)


async def test_a_stage_starts_where_its_earlier_group_left_off(kafka_broker: Broker) -> None:
    """Upgrading from a stage in a group of its own: the task resumes at that group's commit."""
    run, names = await _fresh_topics(kafka_broker)
    items = [(f"k{i}", f"v{i % 3}".encode()) for i in range(20)]
    await _send(kafka_broker.bootstrap, names["in"], items)
    earlier = f"test-tasks-earlier-{run}"
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka_broker.bootstrap,
        group_id=earlier,
        enable_auto_commit=False,
        **broker_client_config(),
    )
    await consumer.start()
    try:
        tps = [TopicPartition(names["in"], p) for p in (0, 1)]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        await consumer.commit({tps[0]: ends[tps[0]]})  # partition 0 done by the earlier stage
    finally:
        await consumer.stop()

    engine = _engine(run, kafka_broker.bootstrap, adopt=earlier)
    stop = asyncio.Event()
    task = asyncio.create_task(engine.run(stop))
    try:
        await collect(
            kafka_broker.bootstrap,
            names["out"],
            until=lambda rs: len(rs) >= ends[tps[1]],
            timeout=60,
        )
        await asyncio.sleep(2)  # anything of partition 0 would have been processed by now
    finally:
        stop.set()
        await task
    out = await read_all(kafka_broker.bootstrap, names["out"])
    assert len(out) == ends[tps[1]], "partition 0 was read again from the beginning"
    # Task 1 committed a batch: each of its partitions now has a commit of this group, even one
    # no batch had a record of, so a later start does not go back to the earlier group.
    group = f"test-tasks-{run}"
    task_1 = [TopicPartition(names["in"], 1), TopicPartition(names["mid"], 1)]
    assert None not in (await _committed(kafka_broker.bootstrap, group, task_1)).values()


async def test_a_record_a_later_stage_fails_on_is_dead_lettered_once_and_the_task_goes_on(
    kafka_broker: Broker,
) -> None:
    """A record the counting stage raises on: handed over inside the task, the input record
    that sent it is dead-lettered (none of its effects kept); published, the mention itself is.
    Either way once, and every other record is counted once."""
    run, names = await _fresh_topics(kafka_broker)
    items = [(f"k{i}", f"v{i % 4}".encode()) for i in range(20)]
    items.insert(7, ("bad", b"poison"))
    await _send(kafka_broker.bootstrap, names["in"], items)
    engine = _engine(run, kafka_broker.bootstrap)
    stop = asyncio.Event()
    task = asyncio.create_task(engine.run(stop))
    try:
        await collect(kafka_broker.bootstrap, names["out"], until=lambda rs: len(rs) >= 20)
        await collect(kafka_broker.bootstrap, names["dlq"], until=lambda rs: len(rs) >= 1)
    finally:
        stop.set()
        await task
    out = await read_all(kafka_broker.bootstrap, names["out"])
    dead = await read_all(kafka_broker.bootstrap, names["dlq"])
    assert len(out) == 20
    assert [(r.key, r.value) for r in dead] in (
        [(b"bad", b"poison")],  # the input record, its mention handed over inside the task
        [(b"poison", b"poison")],  # the mention, published to another task
    )
    source = dict(dead[0].headers)["asbx_source"].decode()
    assert source.startswith((names["in"], names["mid"]))
