"""Releasing the free heap: memory freed between live objects goes back to the kernel."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from services import malloc_tuning

glibc = pytest.mark.skipif(
    not sys.platform.startswith("linux") or os.confstr("CS_GNU_LIBC_VERSION") is None,
    reason="glibc only",
)

# In a fresh interpreter (the heap's state is process-wide): after one large mmapped block is
# freed, glibc serves 200 KiB buffers from the heap; freed between small live objects they
# are holes that the heap's top cannot give back, as the correlator's TLS read buffers were.
_PROBE = """
import sys
from services.malloc_tuning import release_free_heap

def rss_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20

big = bytearray(4 * 1024 * 1024)
del big
start = rss_mib()
kept, holes = [], []
for _ in range(200):
    holes.append(bytearray(200 * 1024))  # zero-filled: its pages are resident
    kept.append(bytes(1000) + bytes([len(kept) % 256]))  # small, long-lived, from the heap
del holes
released = release_free_heap() if sys.argv[1] == "trim" else False
print(rss_mib() - start, released)
"""


def _resident_growth(mode: str) -> tuple[float, bool]:
    """MiB of resident memory gained over the probe (kept objects: about 0.2), and whether
    anything was released."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, mode], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    return float(out[0]), out[1] == "True"


@glibc
def test_freed_holes_stay_resident_until_released() -> None:
    """Without a release the holes' 40 MiB stay in the process's resident memory."""
    growth, _ = _resident_growth("keep")
    assert growth > 30


@glibc
def test_release_hands_the_holes_back() -> None:
    growth, released = _resident_growth("trim")
    assert released
    assert growth < 5


async def test_heap_trimming_releases_on_its_period(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(malloc_tuning, "_TRIM", lambda pad: calls.append(pad) or 1)
    async with malloc_tuning.heap_trimming(seconds=0.01):
        await asyncio.sleep(0.1)
    count = len(calls)
    await asyncio.sleep(0.05)
    assert count >= 3
    assert len(calls) == count  # stopped with the block
