"""Run a small synchronous action every so often while a service runs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

__all__ = ["every"]


@contextlib.asynccontextmanager
async def every(seconds: float, action: Callable[[], object], name: str) -> AsyncIterator[None]:
    """Call ``action`` every ``seconds`` (first after one period) until the block ends."""

    async def repeat() -> None:
        while True:
            await asyncio.sleep(seconds)
            action()

    task = asyncio.create_task(repeat(), name=name)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
