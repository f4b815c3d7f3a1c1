"""Adaptive fetch batching: the broker gathers records while a consumer is busy.

Every poll that finds records costs a transaction (five or more round trips, a commit marker
per partition, a state-file commit), whether it carries one record or a hundred. At a moderate
rate, with fetches answered as soon as one record is there (``fetch.min.bytes`` 1), each poll
carries one to five records, and per-transaction costs were most of the services' CPU: at 200
partner messages a second a normaliser spent 3.5-3.9 ms of CPU per message, against 0.7-0.9 ms
at full speed.

A fetch that waits at the broker until ``min_bytes`` are there or ``linger_ms`` have passed
makes polls carry more records, so fewer and larger transactions. But with that setting an
idle consumer is answered every ``linger_ms`` with nothing (the deployment's idle CPU tripled
when it was tried as a fixed setting), and asbx is idle most of the day. So the pacer switches:
after a poll that found records, the fetches linger; ``idle_after`` seconds after the last poll
that found records, they go back to the consumer's own settings (answered at once, long-polled
when there is nothing). A record arriving at a busy consumer waits at most ``linger_ms`` more;
one arriving at an idle consumer waits nothing more.

``idle_after`` is short (about one lingering fetch) on purpose. Busy, a consumer with nothing
to read is answered empty every ``linger_ms``; with 0.25 s, records a few hundred milliseconds
apart (a quiet hour's rate) kept every consumer busy between them, and at 5 messages a second
the deployment used 0.08 of a core more than without pacing; with 60 ms, 0.03. At rates where
pacing pays, a consumer finds records every poll and never reaches it.

How long to linger (``ASBX_FETCH_LINGER_MS``, 50 ms) trades a bounded wait for CPU. Measured in
pairs at one partition per topic (``tests/benchmarks/RESULTS.md``), 50 ms against 20 ms used
11-31% fewer cores at every rate from 30 to 320 partner messages a second. It added 20-45 ms
to the median and to p99 where the cores had room, with p99 110 ms at 30/s and 157 ms at
200/s. Near saturation (320/s), p99 was 152-255 ms in three runs, against 138-432 ms with
20 ms: with fewer, larger transactions the machine has headroom left.

aiokafka reads ``fetch_min_bytes`` and ``fetch_max_wait_ms`` from its fetcher each time it
builds a fetch request, and has no public way to change them on a running consumer, so the
pacer sets those two attributes of the fetcher. If a later aiokafka has no such attributes,
the pacer logs that once and does nothing: fetches are then as configured, never wrong.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import structlog

__all__ = ["FetchPacer", "FetchPacing"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class FetchPacing:
    """How long a busy consumer's fetches wait at the broker for more records."""

    #: Longest a fetch waits at the broker while the consumer is busy (0: pacing off).
    linger_ms: int = 0
    #: A busy fetch is answered as soon as this much is there, however short the wait.
    min_bytes: int = 64 * 1024
    #: Seconds without a poll that found records before fetches are answered at once again.
    idle_after: float = 0.06


class FetchPacer:
    """Switches one consumer's fetches between lingering (busy) and immediate (idle)."""

    def __init__(self, consumer: Any, pacing: FetchPacing) -> None:
        self.consumer = consumer
        self.pacing = pacing
        self._fetcher: Any = None
        #: The consumer's own settings, restored when it goes idle: (min bytes, max wait ms).
        self._idle: tuple[int, int] | None = None
        self._to_idle: asyncio.TimerHandle | None = None
        self._unavailable = False

    @property
    def busy(self) -> bool:
        """Whether fetches are lingering now."""
        return self._to_idle is not None

    @property
    def idle_at(self) -> float | None:
        """When (event-loop time) fetches go back to the consumer's own settings, if busy."""
        return None if self._to_idle is None else self._to_idle.when()

    def saw_records(self) -> None:
        """A poll found records: linger from the next fetch on, until idle again."""
        if self.pacing.linger_ms <= 0 or not self._attach():
            return
        if self._to_idle is None:
            self._set(self.pacing.min_bytes, self.pacing.linger_ms)
        else:
            self._to_idle.cancel()
        self._to_idle = asyncio.get_running_loop().call_later(self.pacing.idle_after, self._go_idle)

    def close(self) -> None:
        """Back to the consumer's own settings, and no timer left behind."""
        if self._to_idle is not None:
            self._to_idle.cancel()
            self._go_idle()

    def _go_idle(self) -> None:
        self._to_idle = None
        if self._idle is not None:
            self._set(*self._idle)

    def _set(self, min_bytes: int, max_wait_ms: int) -> None:
        self._fetcher._fetch_min_bytes = min_bytes
        self._fetcher._fetch_max_wait_ms = max_wait_ms

    def _attach(self) -> bool:
        """Find the started consumer's fetcher (once); False if pacing cannot work."""
        if self._fetcher is not None:
            return True
        if self._unavailable:
            return False
        fetcher = getattr(self.consumer, "_fetcher", None)
        if fetcher is None:  # not started yet: try again at the next poll
            return False
        if not all(hasattr(fetcher, a) for a in ("_fetch_min_bytes", "_fetch_max_wait_ms")):
            self._unavailable = True
            log.warning("fetch_pacing.unavailable", reason="aiokafka fetcher has no such settings")
            return False
        self._fetcher = fetcher
        self._idle = (fetcher._fetch_min_bytes, fetcher._fetch_max_wait_ms)
        return True
