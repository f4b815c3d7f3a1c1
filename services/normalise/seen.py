"""Which partner messages were already normalised: the store behind redelivery detection.

Keyed by a digest of the partner's message id; the value is the digest of the content accepted
under that id and the canonical event ids it produced. An exact redelivery (same id, same bytes)
is recognised and produces nothing; the same id with different content is refused.

The durable store is a compacted Kafka topic (one record per message id), read to its end when a
normaliser starts and kept current by the normaliser's own writes. Every instance reads the whole
topic (like a Kafka Streams global table), so partners need not key inbound records by message id
for detection to work after a rebalance. Two instances racing on the same id on different
partitions within milliseconds could both accept; their event ids are deterministic, so the
canonical consumers still see one fact.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Protocol

__all__ = ["InMemorySeenStore", "SeenEntry", "SeenStore", "message_key"]


def message_key(partner: str, message_id: str) -> str:
    """Record key for a partner message id (a digest: ids may embed case references)."""
    return hashlib.sha256(f"{partner}\x1f{message_id}".encode()).hexdigest()


@dataclass(frozen=True)
class SeenEntry:
    """What was accepted under one message id."""

    content_sha256: str
    event_ids: tuple[str, ...]

    def to_bytes(self) -> bytes:
        """Serialised form kept on the compacted topic."""
        return json.dumps(
            {"content_sha256": self.content_sha256, "event_ids": self.event_ids}
        ).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> SeenEntry:
        """Inverse of :meth:`to_bytes`."""
        doc = json.loads(raw)
        return cls(content_sha256=doc["content_sha256"], event_ids=tuple(doc["event_ids"]))


class SeenStore(Protocol):
    """Lookup and record of accepted message ids."""

    def get(self, key: str) -> SeenEntry | None:
        """The entry for a message key, if one was accepted."""
        ...

    async def put(self, key: str, entry: SeenEntry) -> None:
        """Record an accepted message durably before its input offset is committed."""
        ...


class InMemorySeenStore:
    """A dict; the durable adapter builds on it, and unit tests use it alone."""

    def __init__(self) -> None:
        self._entries: dict[str, SeenEntry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> SeenEntry | None:
        """The entry for ``key``."""
        return self._entries.get(key)

    def remember(self, key: str, entry: SeenEntry) -> None:
        """Record without durability (restore path and tests)."""
        self._entries[key] = entry

    async def put(self, key: str, entry: SeenEntry) -> None:
        """Record ``entry``."""
        self.remember(key, entry)
