"""Hand freed heap memory back to the kernel now and then, so a long-running service stays flat.

asyncio reads a TLS connection in chunks of up to 256 KiB (``sslproto``: each read allocates a
buffer that large and shrinks it to what arrived). glibc serves allocations above its mmap
threshold (128 KiB) with ``mmap``, but raises that threshold to the size of each such block
freed, so after the first few reads those buffers come from the heap. Shrunk and freed, they
leave holes between small long-lived objects, and glibc returns heap memory to the kernel only
from the top: the soak measured the correlator's free heap rising about 2 MiB a minute while
the memory in use stayed flat (``tests/soak/soak.py``; README, "Soak").

Why a periodic ``malloc_trim`` and not a fixed threshold: fixing the mmap threshold (as
``MALLOC_MMAP_THRESHOLD_`` does) kept the heap flat too, but the end-to-end benchmark fell from
223-266 to 143 messages a second. Fixing it also fixes glibc's trim threshold at 128 KiB, and
with a 32 MiB trim threshold added the rate came back (243/s), so most of that cost was the
heap being shrunk and grown again; what was left is an mmap per large buffer.
``malloc_trim(0)`` releases the free pages inside the heap as well as at its top, costs one
walk of the free lists, and changes nothing on the allocation path. Off glibc it does
nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
from collections.abc import AsyncIterator, Callable

import structlog

from services.periodic import every

__all__ = ["TRIM_SECONDS", "heap_trimming", "release_free_heap"]

log = structlog.get_logger(__name__)

#: How often a service hands its free heap back (one walk of the free lists each time).
TRIM_SECONDS = 30.0


def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to release
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


_TRIM = _malloc_trim()


def release_free_heap() -> bool:
    """Return the heap's free pages to the kernel; True if any were released."""
    return _TRIM is not None and _TRIM(0) == 1


@contextlib.asynccontextmanager
async def heap_trimming(seconds: float = TRIM_SECONDS) -> AsyncIterator[None]:
    """Release the free heap every ``seconds`` while the block runs."""

    if _TRIM is None:
        log.info("malloc.trim_unavailable", reason="not glibc; the heap is left as it is")
        yield
        return
    async with every(seconds, release_free_heap, name="heap-trimming"):
        yield
