"""Keyed state for one input partition, with the set of keys changed since the last commit.

Values are plain objects; the processor that owns the store encodes them for the changelog.
The store is only ever touched by the task processing its partition, so it needs no locking.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

__all__ = ["PartitionStore"]

V = TypeVar("V")


class PartitionStore(Generic[V]):
    """In-memory key → value map for one partition."""

    def __init__(self, partition: int) -> None:
        self.partition = partition
        self._values: dict[str, V] = {}
        self._dirty: set[str] = set()

    def __len__(self) -> int:
        return len(self._values)

    def get(self, key: str) -> V | None:
        """The value for ``key``, or None."""
        return self._values.get(key)

    def put(self, key: str, value: V) -> None:
        """Set ``key`` and mark it for the changelog."""
        self._values[key] = value
        self._dirty.add(key)

    def delete(self, key: str) -> None:
        """Remove ``key`` (a tombstone goes to the changelog)."""
        self._values.pop(key, None)
        self._dirty.add(key)

    def load(self, key: str, value: V | None) -> None:
        """Set or remove ``key`` during recovery (not marked dirty)."""
        if value is None:
            self._values.pop(key, None)
        else:
            self._values[key] = value

    def take_dirty(self) -> Iterator[tuple[str, V | None]]:
        """Changed keys with their current value (None: deleted); clears the dirty set."""
        dirty, self._dirty = self._dirty, set()
        for key in sorted(dirty):
            yield key, self._values.get(key)

    def items(self) -> Iterator[tuple[str, V]]:
        """Every key and value."""
        yield from self._values.items()
