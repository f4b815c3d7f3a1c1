"""The collector tuning: long-lived objects leave the full collections' walk, nothing leaks."""

from __future__ import annotations

import asyncio
import gc
import weakref

from services import gc_tuning


class _Node:
    """A tracked object that can take part in a reference cycle."""

    def __init__(self) -> None:
        self.other: _Node | None = None


def _in_oldest_generation(obj: object) -> bool:
    return any(o is obj for o in gc.get_objects(generation=2))


def test_a_full_collection_freezes_its_survivors_and_the_block_restores_the_collector() -> None:
    before = gc.get_threshold()

    async def run() -> None:
        async with gc_tuning.calm_collection():
            assert gc.get_threshold()[0] == gc_tuning.YOUNG_THRESHOLD
            cache = [_Node() for _ in range(1000)]  # a stage's decoded state, say
            frozen = gc.get_freeze_count()
            gc.collect()
            # Survivors of the full collection are frozen: later full collections skip them.
            assert gc.get_freeze_count() >= frozen + len(cache)
            assert not _in_oldest_generation(cache[0])

    asyncio.run(run())
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
    assert gc_tuning._freeze_after_full_collection not in gc.callbacks


def test_frozen_objects_are_still_freed_by_reference_counting() -> None:
    async def run() -> None:
        async with gc_tuning.calm_collection():
            node = _Node()
            gc.collect()
            assert gc.get_freeze_count() > 0
            ref = weakref.ref(node)
            del node
            assert ref() is None

    asyncio.run(run())


def test_a_cycle_among_frozen_objects_is_reclaimed_by_the_thaw() -> None:
    async def run() -> None:
        async with gc_tuning.calm_collection():
            a, b = _Node(), _Node()
            a.other, b.other = b, a
            gc.collect()  # both survive: frozen
            ref = weakref.ref(a)
            del a, b
            gc.collect()
            assert ref() is not None, "frozen: not walked until the thaw"
            assert gc_tuning.thaw_and_collect() >= 2
            assert ref() is None

    asyncio.run(run())


def test_the_thaw_runs_on_its_schedule() -> None:
    async def run() -> None:
        async with gc_tuning.calm_collection(thaw_seconds=0.01):
            a, b = _Node(), _Node()
            a.other, b.other = b, a
            gc.collect()
            ref = weakref.ref(a)
            del a, b
            for _ in range(100):
                if ref() is None:
                    return
                await asyncio.sleep(0.01)
            raise AssertionError("the cycle was never reclaimed")

    asyncio.run(run())
