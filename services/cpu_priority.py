"""Lower a service's CPU priority, so that the stage after it gets the cores first.

Every partner message passes through two processes: a normaliser, then the correlator. The
correlator is one event loop, so it can use one core at most, and it is the costlier of the
two. Where the services share cores (the two-core machine the benchmark measures, or one host
running the whole stack), the kernel gives each runnable process an equal share. In a burst
the three normalisers then take most of the CPU and race ahead. The correlator gets half a
core, and the canonical topic fills up behind it. Once the normalisers have finished, the
correlator works through that backlog alone, on one core, while the other core idles. The
alerts come out of the correlator, so they wait for that backlog.

Kafka holds the normalisers' output durably, so they lose nothing by running behind. With the
normalisers at a lower priority (a higher niceness), the correlator gets the core it can use,
and the normalisers get what is left. That is still a core or more, because the correlator
cannot use two. Measured with the pipeline benchmark at one partition per topic, two cores:
the correlator's catching up after a burst fell from 2.4-3.4 s to 0.4-1.0 s, and end-to-end
throughput rose by 10-13%, with alert latency at a moderate rate the same within the noise
(``tests/benchmarks/RESULTS.md``, "Normalisers that give way to the correlator").

Niceness only weighs processes that want the same core at the same time, so a service alone
on its machine runs as fast as before. Raising it needs no privilege; lowering it back does,
so a process started at a higher niceness (``nice -n 15 asbx serve ...``) keeps its own.
Containers are weighed by their cgroup, not by niceness: ``docker-compose.yml`` gives the
normalisers smaller ``cpu_shares`` for the same effect.
"""

from __future__ import annotations

import os

import structlog

__all__ = ["yield_cpu"]

log = structlog.get_logger(__name__)


def yield_cpu(niceness: int) -> int:
    """Run this process at ``niceness`` or lower priority; returns the niceness it now has.

    0 leaves the process as it was started. A process already at a higher niceness keeps it.
    """
    current = os.nice(0)
    if niceness <= current:
        return current
    try:
        now = os.nice(niceness - current)
    except OSError as exc:  # not expected: raising one's niceness needs no privilege
        log.warning("cpu_priority.unchanged", niceness=current, wanted=niceness, error=str(exc))
        return current
    log.info("cpu_priority.lowered", niceness=now, was=current)
    return now
