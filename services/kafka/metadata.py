"""Partition discovery for consumers that assign partitions themselves (no group).

aiokafka's consumer only caches metadata for topics it subscribed to; ``partitions_for_topic``
returns None for any other topic until metadata for it is fetched. There is no public consumer
call that waits for it (the producer has ``partitions_for``), so this helper asks the client to
track the topic and refreshes metadata until the partitions are known.
"""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, TopicPartition

__all__ = ["partitions_of"]


async def partitions_of(
    consumer: AIOKafkaConsumer, topic: str, attempts: int = 20
) -> list[TopicPartition]:
    """Every partition of ``topic``; empty if the topic does not exist."""
    for _ in range(attempts):
        known = consumer.partitions_for_topic(topic)
        if known:
            return [TopicPartition(topic, p) for p in sorted(known)]
        if topic not in await consumer.topics():
            return []
        client = consumer._client
        client.add_topic(topic)
        await client.force_metadata_update()
        await asyncio.sleep(0.05)
    return []
