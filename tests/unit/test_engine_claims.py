"""Claims run in the background: a revoked partition's claim is cancelled and undone."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import TopicPartition

from services.streams import engine as engine_module
from services.streams.engine import EngineConfig, Stage, TransactionalEngine
from services.streams.store import PartitionStore


class FakeConsumer:
    def __init__(self) -> None:
        self.paused: set[TopicPartition] = set()
        self.assigned: set[TopicPartition] = set()

    def pause(self, tp: TopicPartition) -> None:
        self.paused.add(tp)

    def resume(self, tp: TopicPartition) -> None:
        self.paused.discard(tp)

    def assignment(self) -> set[TopicPartition]:
        return self.assigned


class FakeProducer:
    def __init__(self) -> None:
        self.started = self.stopped = False

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True


def _engine(
    monkeypatch: Any, also: tuple[Stage, ...] = ()
) -> tuple[TransactionalEngine[int], list[FakeProducer]]:
    producers: list[FakeProducer] = []

    def producer(*_args: Any, **_kwargs: Any) -> FakeProducer:
        producers.append(FakeProducer())
        return producers[-1]

    monkeypatch.setattr(engine_module, "partition_producer", producer)
    config = EngineConfig(
        name="t",
        bootstrap="-",
        input_topic="in",
        changelog_topic="cl",
        group_id="g",
        dead_letter_topic="dlq",
    )
    engine: TransactionalEngine[int] = TransactionalEngine(config, None, also=also)  # type: ignore[arg-type]
    engine._consumer = FakeConsumer()
    return engine, producers


async def test_a_claimed_partition_is_paused_until_restored_then_resumed(monkeypatch: Any) -> None:
    engine, _ = _engine(monkeypatch)
    restored = asyncio.Event()

    async def restore(partition: int) -> tuple[dict[str, PartitionStore[int]], int]:
        await restored.wait()
        return {"in": PartitionStore(partition)}, 0

    engine._restore = restore  # type: ignore[method-assign]
    tp = TopicPartition("in", 0)
    consumer: FakeConsumer = engine._consumer  # type: ignore[assignment]
    consumer.assigned.add(tp)
    engine._claim([tp])  # as the rebalance callback does: returns at once
    assert tp in consumer.paused
    assert engine.claiming == [0]
    assert engine.partitions == []
    restored.set()
    await asyncio.wait_for(asyncio.gather(*list(engine._claims.values())), 5)
    assert tp not in consumer.paused
    assert engine.claiming == []
    assert engine.partitions == [0]


async def test_revoking_a_partition_mid_claim_cancels_and_undoes_the_claim(
    monkeypatch: Any,
) -> None:
    engine, producers = _engine(monkeypatch)
    entered = asyncio.Event()

    async def restore(partition: int) -> tuple[dict[str, PartitionStore[int]], int]:
        entered.set()
        await asyncio.Event().wait()  # a restore that never ends by itself
        raise AssertionError

    engine._restore = restore  # type: ignore[method-assign]
    tp = TopicPartition("in", 0)
    engine._consumer.assigned.add(tp)  # type: ignore[union-attr]
    engine._claim([tp])
    await asyncio.wait_for(entered.wait(), 5)
    await asyncio.wait_for(engine._release([tp]), 5)
    assert engine.claiming == []
    assert engine.partitions == []
    assert producers[0].started
    assert producers[0].stopped


async def test_claims_run_one_at_a_time_in_partition_order(monkeypatch: Any) -> None:
    """The assignment arrives as a set; restores must not vary in order with the hash seed."""
    engine, _ = _engine(monkeypatch)
    order: list[int] = []
    running = 0

    async def restore(partition: int) -> tuple[dict[str, PartitionStore[int]], int]:
        nonlocal running
        running += 1
        assert running == 1, "two claims restored at once"
        order.append(partition)
        await asyncio.sleep(0)
        running -= 1
        return {"in": PartitionStore(partition)}, 0

    engine._restore = restore  # type: ignore[method-assign]
    tps = [TopicPartition("in", p) for p in (3, 0, 2, 1)]
    engine._consumer.assigned.update(tps)  # type: ignore[union-attr]
    engine._claim(tps)
    await asyncio.wait_for(asyncio.gather(*list(engine._claims.values())), 5)
    assert order == [0, 1, 2, 3]
    assert engine.partitions == [0, 1, 2, 3]


class RewindingConsumer(FakeConsumer):
    def __init__(self) -> None:
        super().__init__()
        self.sought: list[tuple[TopicPartition, int]] = []

    async def committed(self, _tp: TopicPartition) -> int:
        return 7

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.sought.append((tp, offset))


class UnstartableProducer(FakeProducer):
    async def start(self) -> None:
        raise ConnectionError("broker away")


async def test_recovery_replaces_the_partition_producer(monkeypatch: Any) -> None:
    """A producer whose transaction failed may be stuck in a fatal state (a broker killed
    mid-commit): recovery stops it, starts a new one (which fences it), and rewinds."""
    engine, producers = _engine(monkeypatch)
    consumer = RewindingConsumer()
    engine._consumer = consumer  # type: ignore[assignment]

    async def restore(partition: int) -> tuple[dict[str, PartitionStore[int]], int]:
        return {"in": PartitionStore(partition)}, 0

    engine._restore = restore  # type: ignore[method-assign]
    failed = FakeProducer()
    engine._producers[0] = failed  # type: ignore[assignment]
    engine._stores[0] = {"in": PartitionStore(0)}
    tp = TopicPartition("in", 0)
    await engine._recover(0)
    assert failed.stopped
    assert engine._producers[0] is producers[-1]
    assert producers[-1].started
    assert consumer.sought == [(tp, 7)]


async def test_a_recovery_whose_new_producer_cannot_start_leaves_none(monkeypatch: Any) -> None:
    """The failure reaches the caller (which pauses the partition and retries later), and the
    partition has no producer a batch could be committed with meanwhile."""
    engine, _ = _engine(monkeypatch)
    unstartable: list[UnstartableProducer] = []

    def producer(*_args: Any, **_kwargs: Any) -> UnstartableProducer:
        unstartable.append(UnstartableProducer())
        return unstartable[-1]

    monkeypatch.setattr(engine_module, "partition_producer", producer)
    failed = FakeProducer()
    engine._producers[0] = failed  # type: ignore[assignment]
    with pytest.raises(ConnectionError):
        await engine._recover(0)
    assert failed.stopped
    assert unstartable[0].stopped
    assert 0 not in engine._producers


async def test_a_task_given_without_every_stage_partition_is_not_claimed(
    monkeypatch: Any,
) -> None:
    """A record handed over inside a task must land on a stage partition this member owns: a
    task assigned in part (topics whose partition counts disagree) stays paused, unclaimed."""
    later = Stage("later", "mid", "cl-mid", processor=None)  # type: ignore[arg-type]
    engine, producers = _engine(monkeypatch, also=(later,))
    consumer: FakeConsumer = engine._consumer  # type: ignore[assignment]
    whole, part = [TopicPartition("in", 0), TopicPartition("mid", 0)], TopicPartition("in", 1)
    consumer.assigned.update([*whole, part])

    async def restore(partition: int) -> tuple[dict[str, PartitionStore[int]], int]:
        return {"in": PartitionStore(partition), "mid": PartitionStore(partition)}, 0

    engine._restore = restore  # type: ignore[method-assign]
    engine._claim([*whole, part])
    assert engine.claiming == [0]
    await asyncio.wait_for(asyncio.gather(*list(engine._claims.values())), 5)
    assert engine.partitions == [0]
    assert part in consumer.paused
    assert not consumer.paused & set(whole)
    assert len(producers) == 1
