"""Keep glibc's heap from creeping under a long-running service's network reads.

asyncio reads a TLS connection in chunks of up to 256 KiB (``sslproto``: each read allocates a
buffer that large and shrinks it to what arrived). glibc serves allocations above its mmap
threshold (128 KiB) with ``mmap``, but it raises that threshold to the size of each such block
freed, so after the first few reads every 256 KiB buffer comes from the heap instead. Shrunk
and freed, those buffers leave holes that small long-lived objects settle in, and the heap
grows while the memory in use does not: the soak measured the correlator's free heap rising
about 2 MiB a minute with its live data flat (``tests/soak/soak.py``; README, "Soak").

Fixing the threshold (which turns glibc's adjustment off) sends those buffers back to
``mmap``, returned whole when freed. This is what ``MALLOC_MMAP_THRESHOLD_`` in the
environment does; setting it in-process covers ``asbx serve`` however it is started. A value
already given in the environment is respected, and other C libraries are left alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

import structlog

__all__ = ["MMAP_THRESHOLD", "fix_mmap_threshold"]

log = structlog.get_logger(__name__)

#: glibc's own starting value, kept fixed.
MMAP_THRESHOLD = 128 * 1024
_M_MMAP_THRESHOLD = -3  # from <malloc.h>


def fix_mmap_threshold(threshold: int = MMAP_THRESHOLD) -> bool:
    """Fix glibc's mmap threshold for this process; True if it was set here.

    A no-op (False) off glibc, or when ``MALLOC_MMAP_THRESHOLD_`` already set it at start-up.
    """
    if "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to fix
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    if mallopt(_M_MMAP_THRESHOLD, threshold) != 1:
        log.warning("malloc.threshold_refused", threshold=threshold)
        return False
    return True
