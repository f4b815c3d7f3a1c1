"""The collector tuning: no automatic pauses, and cycles are still reclaimed."""

from __future__ import annotations

import asyncio
import gc
import weakref

import pytest

from services import gc_tuning


class _Node:
    """A tracked object that can take part in a reference cycle."""

    def __init__(self) -> None:
        self.other: _Node | None = None


def _cycle() -> weakref.ref[_Node]:
    """A reference cycle nothing else refers to; a weak reference to one of its objects."""
    a, b = _Node(), _Node()
    a.other, b.other = b, a
    return weakref.ref(a)


async def _reclaimed(ref: weakref.ref[_Node]) -> bool:
    for _ in range(200):
        if ref() is None:
            return True
        await asyncio.sleep(0.01)
    return False


def test_automatic_collection_is_off_in_the_block_and_as_before_after() -> None:
    thresholds = gc.get_threshold()

    async def run() -> None:
        async with gc_tuning.calm_collection():
            assert not gc.isenabled()
            ref = _cycle()
            for _ in range(50_000):  # far more allocations than any threshold
                _Node()
            assert ref() is not None, "no collection ran by itself"
            assert gc.collect() >= 2
            assert ref() is None

    asyncio.run(run())
    assert gc.isenabled()
    assert gc.get_threshold() == thresholds


def test_reference_counting_still_frees_at_once() -> None:
    async def run() -> None:
        async with gc_tuning.calm_collection():
            node = _Node()
            ref = weakref.ref(node)
            del node
            assert ref() is None

    asyncio.run(run())


def test_the_scheduled_collection_reclaims_cycles() -> None:
    async def run() -> None:
        async with gc_tuning.calm_collection(collect_seconds=0.01):
            assert await _reclaimed(_cycle())

    asyncio.run(run())


def test_growing_memory_brings_the_collection_forward(monkeypatch: pytest.MonkeyPatch) -> None:
    resident = [100 * 2**20]
    monkeypatch.setattr(gc_tuning, "resident_bytes", lambda: resident[0])

    async def run() -> None:
        async with gc_tuning.calm_collection(check_seconds=0.01, growth_bytes=64 * 2**20):
            ref = _cycle()
            resident[0] += 32 * 2**20  # under the growth that counts
            await asyncio.sleep(0.1)
            assert ref() is not None
            resident[0] += 32 * 2**20
            assert await _reclaimed(ref)

    asyncio.run(run())
