"""Which keys of a partition may be forgotten by which day, so a sweep never scans every key.

The index lives in memory only: it is rebuilt from the partition's state on first use after a
recovery (like the CPN watch in ``keyed.py``), and kept up to date as keys are written. Each key
sits under one day (the last day anything in it is relevant); a sweep takes the keys of every
day before the cutoff's and lets the domain decide what actually goes.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from datetime import date

__all__ = ["ExpiryIndex"]


class ExpiryIndex:
    """Keys by the day after which they may be swept."""

    def __init__(self, entries: Iterable[tuple[str, date | None]] = ()) -> None:
        self._day_of: dict[str, date] = {}
        self._keys: dict[date, set[str]] = {}
        self._days: list[date] = []
        for key, day in entries:
            self.set(key, day)

    def __len__(self) -> int:
        return len(self._day_of)

    def keys(self) -> set[str]:
        """Every key filed under a day."""
        return set(self._day_of)

    def set(self, key: str, day: date | None) -> None:
        """File ``key`` under ``day`` (None: never due, e.g. an active vulnerability flag)."""
        self.discard(key)
        if day is None:
            return
        self._day_of[key] = day
        if day not in self._keys:
            self._keys[day] = set()
            heapq.heappush(self._days, day)
        self._keys[day].add(key)

    def discard(self, key: str) -> None:
        """Forget ``key`` (deleted, or about to be re-filed)."""
        day = self._day_of.pop(key, None)
        if day is not None:
            self._keys[day].discard(key)

    def due(self, before: date) -> list[str]:
        """Keys filed under days before ``before``, in order; they leave the index."""
        found: list[str] = []
        while self._days and self._days[0] < before:
            day = heapq.heappop(self._days)
            keys = self._keys.pop(day)
            found += sorted(keys)
            for key in keys:
                del self._day_of[key]
        return found
