"""Recovering a partition's state from its compacted changelog topic.

The changelog has the same number of partitions as the input; partition *p* of the changelog
holds the state of input partition *p*. It is written in the same transaction as the output and
the input offsets, and read back with ``read_committed``, so recovered state always matches the
committed input position: nothing is counted twice and nothing is lost. Compaction keeps one
record per key, so recovery reads the current state, not six months of input.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition

from deploy.kafka_client import client_config_from_env
from services.streams.store import PartitionStore

__all__ = ["restore_partition"]

V = TypeVar("V")


async def restore_partition(
    bootstrap: str,
    changelog_topic: str,
    store: PartitionStore[V],
    decode: Callable[[bytes], V],
    client_config: dict[str, Any] | None = None,
) -> int:
    """Load ``store`` from its changelog partition; returns the number of records read."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        isolation_level="read_committed",
        max_partition_fetch_bytes=16 * 1024 * 1024,
        **(client_config if client_config is not None else client_config_from_env()),
    )
    await consumer.start()
    try:
        tp = TopicPartition(changelog_topic, store.partition)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        # With read_committed, the end offset is the last stable offset: exactly what to read.
        end = (await consumer.end_offsets([tp]))[tp]
        count = 0
        while await consumer.position(tp) < end:
            batch = await consumer.getmany(tp, timeout_ms=1000)
            for record in batch.get(tp, []):
                if record.key is not None:
                    value = None if record.value is None else decode(record.value)
                    store.load(record.key.decode(), value)
                    count += 1
        return count
    finally:
        await consumer.stop()
