"""Test helpers for the correlator on the real broker: feed canonical events, wait, read alerts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from contracts.alert_envelope import AlertEnvelope
from contracts.envelope import CanonicalEvent
from contracts.topics import CANONICAL_EVENTS
from services.correlator.app import CorrelatorService
from services.kafka.headers import cloudevent_headers
from services.kafka.reader import end_offsets, read_all

__all__ = ["alerts", "publish_canonical", "wait_caught_up"]


async def publish_canonical(bootstrap: str, events: Iterable[CanonicalEvent]) -> int:
    """Publish events as a normaliser would: keyed by subject, CloudEvents headers."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    count = 0
    try:
        batch = []
        for event in events:
            headers = [(k, v.encode()) for k, v in cloudevent_headers(event, None).items()]
            batch.append(
                await producer.send(
                    CANONICAL_EVENTS.name,
                    event.model_dump_json().encode(),
                    key=event.subject.encode(),
                    headers=headers,
                )
            )
            count += 1
        await asyncio.gather(*batch)
    finally:
        await producer.stop()
    return count


async def _committed(bootstrap: str, group: str, topic: str, ends: dict[Any, int]) -> bool:
    """Whether ``group`` has committed past every data record before ``ends``.

    Transaction commit markers take offsets too, so a committed offset short of the end offset
    may still be caught up: read from it (read_committed) and see whether any record remains.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    await consumer.start()
    try:
        for tp, end in ends.items():
            if end == 0:
                continue
            committed = await consumer.committed(TopicPartition(topic, tp.partition))
            if committed is not None and committed >= end:
                continue
            probe = TopicPartition(topic, tp.partition)
            consumer.assign([probe])
            if committed is None:
                await consumer.seek_to_beginning(probe)
            else:
                consumer.seek(probe, committed)
            for _ in range(10):  # a fetch may end before the commit marker is stepped over
                if (await consumer.getmany(probe, timeout_ms=200)).get(probe):
                    return False
                if await consumer.position(probe) >= end:
                    break
            else:
                return False
        return True
    finally:
        await consumer.stop()


async def wait_caught_up(service: CorrelatorService, timeout: float = 120) -> None:
    """Return once every stage has committed past everything published so far."""
    deadline = time.monotonic() + timeout
    for engine in service.engines:
        topic, group = engine.config.input_topic, engine.config.group_id
        ends = await end_offsets(service.bootstrap, topic)
        while not await _committed(service.bootstrap, group, topic, ends):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{engine.config.name} did not catch up with {topic}")
            await asyncio.sleep(0.25)


async def alerts(bootstrap: str, topic: str) -> list[AlertEnvelope]:
    """Every committed alert on ``topic``."""
    return [AlertEnvelope.model_validate_json(r.value) for r in await read_all(bootstrap, topic)]
