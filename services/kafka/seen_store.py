"""The durable seen-message store: in memory, backed by a compacted topic."""

from __future__ import annotations

from typing import Any

from services.kafka.compacted import read_compacted
from services.normalise.seen import InMemorySeenStore, SeenEntry

__all__ = ["KafkaSeenStore"]


class KafkaSeenStore(InMemorySeenStore):
    """Seen message ids, restored from a compacted topic.

    Entries are written to the topic in the same transaction as the message's outputs and
    input offset (see ``services.normalise.emitter``); :meth:`remember` is called only once that
    transaction committed, so an aborted attempt never makes its message look already handled.
    """

    def __init__(self, topic: str) -> None:
        super().__init__()
        self.topic = topic

    async def restore(self, bootstrap: str, client_config: dict[str, Any] | None = None) -> int:
        """Load every committed entry from the topic; call before consuming input."""

        def apply(key: bytes, value: bytes | None) -> None:
            if value is not None:
                self.remember(key.decode(), SeenEntry.from_bytes(value))

        return await read_compacted(bootstrap, self.topic, apply, client_config)
