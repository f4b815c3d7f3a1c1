"""The fixed mmap threshold: large buffers keep going to mmap after a larger one is freed."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from services.malloc_tuning import fix_mmap_threshold

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or os.confstr("CS_GNU_LIBC_VERSION") is None,
    reason="glibc only",
)

# Run in a fresh interpreter: the threshold is process-wide and adjusts with what was freed.
_PROBE = """
import ctypes, sys
from services.malloc_tuning import fix_mmap_threshold

class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = Info
if sys.argv[1] == "fixed":
    assert fix_mmap_threshold()
big = bytes(4 * 1024 * 1024)  # mmapped; freeing it raises glibc's adjustable threshold
del big
before = libc.mallinfo2().hblks
buffer = bytearray(256 * 1024)  # asyncio's TLS read size
print(libc.mallinfo2().hblks - before)
"""


def _mmapped_after_a_larger_free(mode: str) -> int:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, mode], env=env, capture_output=True, text=True, check=True
    )
    return int(out.stdout)


def test_without_the_fix_glibc_moves_large_buffers_onto_the_heap() -> None:
    """The behaviour being fixed: one freed 4 MiB block, and 256 KiB buffers use the heap."""
    assert _mmapped_after_a_larger_free("default") == 0


def test_with_the_fix_large_buffers_stay_mmapped() -> None:
    assert _mmapped_after_a_larger_free("fixed") == 1


def test_a_threshold_given_in_the_environment_is_respected(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "65536")
    assert fix_mmap_threshold() is False
