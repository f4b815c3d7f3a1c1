"""Asking the broker for real whether a client may do something (for the ACL tests)."""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import TopicAuthorizationFailedError

__all__ = ["can_read_with"]


async def can_read_with(bootstrap: str, client_config: dict[str, Any], topic: str) -> bool:
    """Fetch from partition 0 with ``client_config``; False if the broker refuses the topic.

    A topic the principal may not even describe comes back unauthorised in metadata (so no fetch
    is sent); one it may describe but not read fails the fetch itself.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, **client_config
    )
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        consumer.seek(tp, 0)
        for _ in range(6):
            await consumer.getmany(tp, timeout_ms=300)
            if topic in consumer._client.cluster.unauthorized_topics:  # no public API
                return False
    except TopicAuthorizationFailedError:
        return False
    finally:
        await consumer.stop()
    return True
