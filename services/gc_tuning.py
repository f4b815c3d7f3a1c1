"""Keep CPython's cyclic garbage collector from stopping a service for hundreds of milliseconds.

CPython frees an object by reference counting as soon as nothing refers to it. The cyclic
collector exists only for garbage that refers to itself in a cycle, which counting cannot free.
By default it runs whenever tracked allocations outnumber deallocations by a threshold, and each
run stops the event loop while it walks a generation of objects.

What was measured (pipeline benchmark, one partition, 200 partner messages a second;
``tests/benchmarks/RESULTS.md``, "Collections that found nothing"):

* The correlator's caches of decoded state churn all the time. CPython counts the frees of
  old objects against the young generation's allocations, so the young generation grew far
  past its threshold before a collection. Young and middle collections took 50-450 ms each.
  One run had 38 of them over 10 ms, about 2 s of CPU. They set alert latency's tail.
  Freezing what survived each full collection (this module's earlier tuning) did not touch
  them.
* They found nothing. With automatic collection off, a full collection every 30 s reclaimed
  no object at all in any of the four services, after the 222-622 left over from start-up.
  Each took 290-620 ms in the correlator.
* With automatic collection off, p99 alert latency at 200/s was 133 ms, against 266-396 ms
  with it on. Peak memory was the same.

So while a service runs:

* **No automatic collection.** Reference counting frees what the services make.
* **A full collection on a schedule** (hourly). Any cycles that do form are reclaimed, at the
  cost of one pause an hour.
* **A full collection as soon as memory grows.** The resident set is checked every 10 s
  against its size after the last collection. At 64 MiB more, a collection runs at once. A
  fault that makes cycles quickly (say, an exception kept with its traceback on every retry)
  then costs that much memory, not an hour's worth. Caches filling after a start trigger it a
  few times too; each such collection moves the baseline up.
"""

from __future__ import annotations

import contextlib
import gc
import os
import resource
from collections.abc import AsyncIterator

import structlog

from services.periodic import every

__all__ = ["CHECK_SECONDS", "COLLECT_SECONDS", "GROWTH_BYTES", "calm_collection", "resident_bytes"]

log = structlog.get_logger(__name__)

#: How often a full collection runs whatever the memory does.
COLLECT_SECONDS = 3600.0
#: How often the resident set is compared with its size after the last collection.
CHECK_SECONDS = 10.0
#: Growth of the resident set since the last collection that makes the next one run at once.
GROWTH_BYTES = 64 * 1024 * 1024

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def resident_bytes() -> int:
    """The process's resident set now (Linux), or its peak where ``/proc`` is missing."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@contextlib.asynccontextmanager
async def calm_collection(
    collect_seconds: float = COLLECT_SECONDS,
    check_seconds: float = CHECK_SECONDS,
    growth_bytes: int = GROWTH_BYTES,
) -> AsyncIterator[None]:
    """Collect only on a schedule or on memory growth while the block runs (see the module's
    docstring); automatic collection is as it was after."""
    was_enabled = gc.isenabled()
    gc.collect()  # what start-up left, before the baseline is taken
    gc.disable()
    baseline = resident_bytes()

    def scheduled() -> None:
        nonlocal baseline
        found = gc.collect()
        baseline = resident_bytes()
        log.info("gc.collected", found=found, resident_bytes=baseline)

    def on_growth() -> None:
        nonlocal baseline
        grown = resident_bytes()
        if grown - baseline < growth_bytes:
            return
        found = gc.collect()
        baseline = resident_bytes()
        log.info("gc.collected_early", found=found, grown_to=grown, resident_bytes=baseline)

    try:
        async with (
            every(collect_seconds, scheduled, name="gc-collecting"),
            every(check_seconds, on_growth, name="gc-memory-check"),
        ):
            yield
    finally:
        if was_enabled:
            gc.enable()
