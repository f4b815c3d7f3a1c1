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
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

__all__ = ["InMemorySeenStore", "PendingSeen", "SeenEntry", "SeenStore", "message_key"]


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


class PendingSeen:
    """A seen store that also knows the messages accepted in transactions not yet committed.

    A normaliser commits a batch of partner messages in one transaction, so a message id can
    arrive twice before the first copy is committed. The pipeline reads through this overlay:
    the second copy is then a redelivery (or a reused id) exactly as if it came in a later poll.
    Entries are *held* while their transaction is open, moved to the durable store when it
    commits (:meth:`settle`) and forgotten when it does not (:meth:`drop`), so an aborted attempt
    never makes its messages look already handled.
    """

    def __init__(self, store: InMemorySeenStore) -> None:
        self._store = store
        self._pending: dict[str, SeenEntry] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def get(self, key: str) -> SeenEntry | None:
        """The held entry for ``key``, else the committed one."""
        pending = self._pending.get(key)
        return pending if pending is not None else self._store.get(key)

    def hold(self, key: str, entry: SeenEntry) -> None:
        """Note an accepted message whose transaction is still open."""
        self._pending[key] = entry

    def settle(self, keys: Iterable[str]) -> None:
        """Their transaction committed: remember them for good."""
        for key in keys:
            entry = self._pending.pop(key, None)
            if entry is not None:
                self._store.remember(key, entry)

    def drop(self, keys: Iterable[str]) -> None:
        """Their transaction failed: forget them (the messages will be read again)."""
        for key in keys:
            self._pending.pop(key, None)

    async def put(self, key: str, entry: SeenEntry) -> None:
        """Record ``entry`` in the durable store directly."""
        await self._store.put(key, entry)
