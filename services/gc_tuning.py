"""Keep CPython's cyclic garbage collector from stopping a service for hundreds of milliseconds.

The collector's oldest generation holds everything long-lived: the correlator's decoded state
cache, the Kafka clients, pydantic's schemas. Each full collection walks all of it with the
event loop stopped. A ``gc.callbacks`` probe in the correlator under the pipeline benchmark
(128 partner messages a second) timed full collections of 260-270 ms, twice in nine seconds,
and 700 ms once the warm-up population's state was cached: every record in flight in every
stage waited that long. Together the collections took about 8% of the correlator's time.

What this does, and why it is safe:

* **Freeze after each full collection** (``gc.freeze``): whatever survived one is long-lived,
  so it moves to the permanent generation, which later collections do not walk. Full
  collections then look only at what arrived since, and stay short. Reference counting still
  frees a frozen object as soon as nothing refers to it; only garbage that forms a reference
  cycle among frozen objects waits for the next thaw.
* **Thaw once an hour** (``gc.unfreeze`` and one full collection) so such cycles are reclaimed:
  one long pause an hour instead of several a minute.
* **A larger young generation** (10,000 allocations instead of 700): each stream record makes
  hundreds of short-lived containers, and most are freed by reference counting before any
  collection; fewer, slightly larger young collections cost less in total.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator
from typing import Any

import structlog

from services.periodic import every

__all__ = ["THAW_SECONDS", "YOUNG_THRESHOLD", "calm_collection"]

log = structlog.get_logger(__name__)

#: How often the permanent generation is thawed and collected in full.
THAW_SECONDS = 3600.0
#: Allocations (minus deallocations) of tracked objects that trigger a young collection.
YOUNG_THRESHOLD = 10_000
_OLDEST = 2


def _freeze_after_full_collection(phase: str, info: dict[str, Any]) -> None:
    if phase == "stop" and info.get("generation") == _OLDEST:
        gc.freeze()


def thaw_and_collect() -> int:
    """Return every frozen object to the collector and collect in full; objects collected.

    Inside :func:`calm_collection` the survivors are frozen again by the same full-collection
    hook as every other full collection's.
    """
    gc.unfreeze()
    return gc.collect()


@contextlib.asynccontextmanager
async def calm_collection(thaw_seconds: float = THAW_SECONDS) -> AsyncIterator[None]:
    """Tune the collector while the block runs (see the module's docstring); restore it after."""
    thresholds = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, thresholds[1], thresholds[2])
    gc.callbacks.append(_freeze_after_full_collection)
    gc.collect()  # what start-up made (imports, settings, clients) is frozen for good

    def thaw() -> None:
        log.info("gc.thawed", collected=thaw_and_collect(), frozen=gc.get_freeze_count())

    try:
        async with every(thaw_seconds, thaw, name="gc-thawing"):
            yield
    finally:
        gc.callbacks.remove(_freeze_after_full_collection)
        gc.unfreeze()
        gc.set_threshold(*thresholds)
