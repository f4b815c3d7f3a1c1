"""The durable seen-message store: in memory, backed by a compacted topic."""

from __future__ import annotations

from typing import Any

from services.kafka.compacted import read_compacted
from services.kafka.publishing import RecordPublisher
from services.normalise.seen import InMemorySeenStore, SeenEntry

__all__ = ["KafkaSeenStore"]


class KafkaSeenStore(InMemorySeenStore):
    """Seen message ids, written through to a compacted topic and restored from it."""

    def __init__(self, publisher: RecordPublisher, topic: str) -> None:
        super().__init__()
        self._publisher = publisher
        self._topic = topic

    async def restore(self, bootstrap: str, client_config: dict[str, Any] | None = None) -> int:
        """Load every entry from the topic; call before consuming input."""

        def apply(key: bytes, value: bytes | None) -> None:
            if value is not None:
                self.remember(key.decode(), SeenEntry.from_bytes(value))

        return await read_compacted(bootstrap, self._topic, apply, client_config)

    async def put(self, key: str, entry: SeenEntry) -> None:
        """Write through (acknowledged by the cluster), then remember."""
        await self._publisher.publish(entry.to_bytes(), key=key.encode())
        self.remember(key, entry)
