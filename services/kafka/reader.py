"""Reading a topic until a condition holds: used by the demo, the tests and operators' tools.

No consumer group: the reader assigns every partition and starts either at the beginning or at
offsets captured earlier (:func:`end_offsets`), so it never disturbs the services' own groups.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from deploy.kafka_client import client_config_from_env
from services.kafka.metadata import partitions_of

__all__ = ["collect", "end_offsets", "read_all"]

Offsets = dict[TopicPartition, int]
_FETCH_BYTES = 64 * 1024 * 1024


def _consumer(
    bootstrap: str, client_config: dict[str, Any] | None, isolation_level: str = "read_committed"
) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level=isolation_level,
        max_partition_fetch_bytes=_FETCH_BYTES,
        fetch_max_bytes=_FETCH_BYTES,
        **(client_config if client_config is not None else client_config_from_env()),
    )


async def end_offsets(
    bootstrap: str, topic: str, client_config: dict[str, Any] | None = None
) -> Offsets:
    """Current end offset of every partition of ``topic``."""
    consumer = _consumer(bootstrap, client_config)
    await consumer.start()
    try:
        partitions = await partitions_of(consumer, topic)
        return dict(await consumer.end_offsets(partitions)) if partitions else {}
    finally:
        await consumer.stop()


async def collect(
    bootstrap: str,
    topic: str,
    *,
    until: Callable[[list[ConsumerRecord[bytes, bytes]]], bool],
    start: Offsets | None = None,
    timeout: float = 60.0,
    client_config: dict[str, Any] | None = None,
) -> list[ConsumerRecord[bytes, bytes]]:
    """Records of ``topic`` from ``start`` (default: the beginning) until ``until`` is true.

    Raises ``TimeoutError`` with what was seen if the condition does not hold in time.
    """
    consumer = _consumer(bootstrap, client_config)
    await consumer.start()
    seen: list[ConsumerRecord[bytes, bytes]] = []
    try:
        partitions = await partitions_of(consumer, topic)
        consumer.assign(partitions)
        for tp in partitions:
            if start and tp in start:
                consumer.seek(tp, start[tp])
            else:
                await consumer.seek_to_beginning(tp)
        deadline = time.monotonic() + timeout
        while not until(seen):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic}: condition not met after {len(seen)} record(s)")
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                seen.extend(records)
            await asyncio.sleep(0)
        return seen
    finally:
        await consumer.stop()


async def read_all(
    bootstrap: str, topic: str, client_config: dict[str, Any] | None = None
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every committed record of ``topic`` up to its end now (transaction markers skipped)."""
    consumer = _consumer(bootstrap, client_config, isolation_level="read_committed")
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    try:
        partitions = await partitions_of(consumer, topic)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        pending = {tp for tp in partitions if ends[tp] > 0}
        while pending:
            batches = await consumer.getmany(*pending, timeout_ms=500)
            for batch in batches.values():
                records.extend(batch)
            for tp in list(pending):
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
        return records
    finally:
        await consumer.stop()
