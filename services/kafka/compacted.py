"""Reading a compacted topic to its end: how durable state is restored at start-up.

Used for the normalisers' record of seen message ids. The reader assigns every partition (no
consumer group: each instance needs the whole table), reads committed records from the
beginning up to the end offsets taken when it started, and hands each key and latest value to
the caller. Tombstones (``None`` values) delete.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer

from deploy.kafka_client import client_config_from_env
from services.kafka.metadata import partitions_of

__all__ = ["read_compacted"]


async def read_compacted(
    bootstrap: str,
    topic: str,
    apply: Callable[[bytes, bytes | None], None],
    client_config: dict[str, Any] | None = None,
) -> int:
    """Replay ``topic`` into ``apply(key, value)``; returns how many records were read."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        # Entries of aborted transactions must not count: their message was never committed.
        isolation_level="read_committed",
        **(client_config if client_config is not None else client_config_from_env()),
    )
    await consumer.start()
    try:
        assigned = await partitions_of(consumer, topic)
        if not assigned:
            return 0
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        end = await consumer.end_offsets(assigned)
        pending = {tp for tp in assigned if end[tp] > 0}
        count = 0
        while pending:
            batches = await consumer.getmany(*pending, timeout_ms=1000)
            for records in batches.values():
                for record in records:
                    if record.key is not None:
                        apply(record.key, record.value)
                        count += 1
            for tp in list(pending):
                if await consumer.position(tp) >= end[tp]:
                    pending.discard(tp)
        return count
    finally:
        await consumer.stop()
